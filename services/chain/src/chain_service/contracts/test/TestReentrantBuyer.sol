// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarketplaceV2} from "../MarketplaceV2.sol";

/**
 * @title TestReentrantBuyer
 * @notice Test fixture only (never deployed by the service): a buyer contract that, when the
 *         bought token arrives (onERC721Received, during `fulfill`), tries to re-enter the
 *         marketplace — fill a second order and withdraw — and records what happened.
 */
contract TestReentrantBuyer {
    MarketplaceV2 public immutable market;
    bool public reentered;
    bytes public fulfillError;
    bytes public withdrawError;

    MarketplaceV2.Order private _next;
    bytes private _nextSignature;
    bool private _armed;

    constructor(MarketplaceV2 market_) {
        market = market_;
    }

    function buy(
        MarketplaceV2.Order calldata order,
        bytes calldata signature,
        MarketplaceV2.Order calldata next,
        bytes calldata nextSignature
    ) external payable {
        _next = next;
        _nextSignature = nextSignature;
        _armed = true;
        market.fulfill{value: order.price}(order, signature);
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        if (_armed) {
            _armed = false;
            try market.fulfill{value: _next.price}(_next, _nextSignature) {
                reentered = true;
            } catch (bytes memory err) {
                fulfillError = err;
            }
            try market.withdraw() {
                reentered = true;
            } catch (bytes memory err) {
                withdrawError = err;
            }
        }
        return this.onERC721Received.selector;
    }

    receive() external payable {}
}
