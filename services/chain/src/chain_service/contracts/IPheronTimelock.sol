// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/**
 * @title IPheronTimelock
 * @notice OpenZeppelin's TimelockController, unchanged, under a name we deploy: the only admin of
 *         IPAssetTokenV2 (roles, marketplace wiring) and the governor of MarketplaceV2 (fee).
 *         Proposers schedule a call, it becomes executable after `minDelay` seconds, executors
 *         run it, cancellers (= proposers) may cancel it before. Pass admin = address(0) so the
 *         timelock administers itself (its own delay and roles change only through itself).
 */
contract IPheronTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
