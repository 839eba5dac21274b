// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {StakingVault} from "../StakingVault.sol";

/**
 * @title TestReentrantStaker
 * @notice Test fixture only (never deployed by the service): a staker contract that, when the
 *         vault pays it (claim or unstake), tries to re-enter the vault — claim and unstake the
 *         same stake again — and records the revert data each attempt got. It keeps the payment.
 */
contract TestReentrantStaker {
    StakingVault public immutable vault;
    uint256 public stakeId;
    uint256 public received;
    uint256 public payments;
    bytes public claimError;
    bytes public unstakeError;
    bool private _armed;

    constructor(StakingVault vault_) {
        vault = vault_;
    }

    function stake(StakingVault.StakeQuote calldata quote, bytes calldata signature) external payable {
        stakeId = vault.stake{value: msg.value}(quote, signature);
    }

    function claimArmed() external {
        _armed = true;
        vault.claim(stakeId);
    }

    function unstakeArmed() external {
        _armed = true;
        vault.unstake(stakeId);
    }

    receive() external payable {
        received += msg.value;
        payments += 1;
        if (_armed) {
            _armed = false;
            try vault.claim(stakeId) {} catch (bytes memory err) { claimError = err; }
            try vault.unstake(stakeId) {} catch (bytes memory err) { unstakeError = err; }
        }
    }
}
