// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Test only: forces its ether into `target` without calling it (selfdestruct in the
///         constructor), as anyone could to a contract that refuses plain transfers; the
///         StakingVault's reconciliation must name the drift.
contract TestForceFeed {
    constructor(address payable target) payable {
        selfdestruct(target);
    }
}
