// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IPAssetToken} from "./IPAssetToken.sol";

/**
 * @title IPAssetTokenV2
 * @notice IPAssetToken (same ERC-721 + ERC-2981 + co-creator shares, same functions) with the
 *         roles split for a non-custodial marketplace:
 *  - MINTER_ROLE (the platform signer) can only mint new tokens to their creators; it cannot
 *    move, burn or approve any existing token, nor change any wiring.
 *  - DEFAULT_ADMIN_ROLE is held by a TimelockController only: granting/revoking roles and
 *    `setMarketplace` (which marketplace holds the owners' standing approval) are scheduled in
 *    public and take effect only after the timelock's delay, during which any owner can revoke
 *    the standing approval with `setMarketplaceApproval(false)`.
 *  - The standing approval is safe to hold for MarketplaceV2: it moves a token only under an
 *    order its owner signed. Explicit ERC-721 approvals keep working as usual.
 * See services/chain/CONTRACTS.md.
 */
contract IPAssetTokenV2 is IPAssetToken {
    error InvalidTimelock(address timelock);

    constructor(address minter, address timelock) IPAssetToken(timelock) {
        if (timelock.code.length == 0) revert InvalidTimelock(timelock);
        _revokeRole(MINTER_ROLE, timelock);
        _grantRole(MINTER_ROLE, minter);
    }
}
