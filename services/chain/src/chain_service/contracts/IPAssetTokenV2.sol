// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IPAssetToken} from "./IPAssetToken.sol";

/**
 * @title IPAssetTokenV2
 * @notice IPAssetToken (same ERC-721 + ERC-2981 + co-creator shares, same functions and events)
 *         with the roles split for a non-custodial marketplace:
 *  - MINTER_ROLE (the platform signer) can only mint new tokens to their creators; it cannot
 *    move, burn or approve any existing token, nor change any wiring.
 *  - DEFAULT_ADMIN_ROLE is held by a TimelockController only: granting/revoking roles and
 *    `setMarketplace` are scheduled in public and take effect only after the timelock's delay.
 *
 * Standing approval, bound to the marketplace the owner accepted: every owner's tokens are
 * approved by default for the FIRST marketplace ever wired (MarketplaceV2, which moves a token
 * only under an order its owner signed), so a creator lists by signing alone, with no approval
 * transaction and no gas. Rewiring the token to another marketplace does NOT carry anyone's
 * standing approval over: an owner approves the new marketplace with
 * `setMarketplaceApproval(true)` (which accepts the marketplace wired at that moment) or an
 * ordinary ERC-721 approval. So no admin, even after the timelock delay, can make a contract of
 * its choosing an operator of tokens whose owners did nothing. `setMarketplaceApproval(false)`
 * opts out entirely (then only explicit ERC-721 approvals apply).
 * See services/chain/CONTRACTS.md.
 */
contract IPAssetTokenV2 is IPAssetToken {
    /// @notice The first marketplace wired: the one every owner's standing approval defaults to.
    address public initialMarketplace;

    mapping(address owner => bool) private _optedOut;
    mapping(address owner => address) private _accepted;

    error InvalidTimelock(address timelock);

    constructor(address minter, address timelock) IPAssetToken(timelock) {
        if (timelock.code.length == 0) revert InvalidTimelock(timelock);
        _revokeRole(MINTER_ROLE, timelock);
        _grantRole(MINTER_ROLE, minter);
    }

    /// @notice The marketplace whose standing approval `owner` holds (zero when none applies now).
    function standingApprovalOf(address owner) public view returns (address) {
        if (_optedOut[owner]) return address(0);
        address accepted = _accepted[owner];
        if (accepted == address(0)) accepted = initialMarketplace;
        return accepted == marketplace ? accepted : address(0);
    }

    /// @notice Wire the marketplace (DEFAULT_ADMIN_ROLE = the timelock only).
    function setMarketplace(address newMarketplace) public override {
        super.setMarketplace(newMarketplace);
        if (initialMarketplace == address(0)) initialMarketplace = newMarketplace;
    }

    /// @notice An owner accepts the currently wired marketplace (true) or opts out (false).
    function setMarketplaceApproval(bool approved) public override {
        _optedOut[msg.sender] = !approved;
        if (approved) _accepted[msg.sender] = marketplace;
        emit MarketplaceApprovalSet(msg.sender, approved);
    }

    function isApprovedForAll(address owner, address operator) public view override returns (bool) {
        if (operator != address(0) && operator == standingApprovalOf(owner)) return true;
        return ERC721.isApprovedForAll(owner, operator);
    }
}
