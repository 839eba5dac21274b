// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IPAssetToken} from "./IPAssetToken.sol";

/**
 * @title Marketplace
 * @notice Fixed-price sales of IPAssetToken tokens in one transaction: the buyer pays the
 *         exact price, the seller is credited the price minus the royalty, the EIP-2981
 *         royalty amount is split among the token's co-creators by their basis-point shares,
 *         and the token moves to the buyer.
 *
 * Pull payments: a sale only credits balances (`pendingWithdrawal`); nothing is sent during
 * the sale, so a recipient that cannot receive ether never blocks a sale. `withdraw()` pays
 * the caller; `withdrawFor(payees)` pays each listed payee its own balance (anyone may call
 * it, money only ever goes to its owner) and skips, with a `WithdrawalFailed` event, a payee
 * whose transfer fails, so the platform can trigger withdrawals without holding user keys.
 *
 * Rounding: each co-creator gets floor(royalty * shareBps / 10,000); the remainder (less than
 * one wei per co-creator) goes to the FIRST co-creator, so the royalty is paid out exactly.
 *
 * Access control (platform decision): the IPheron platform is the only transaction sender
 * in production. Its relayer holds OPERATOR_ROLE and may, on behalf of users:
 *  - `listFor` and `unlist` a token, and `transferFor` it to another address, only while the
 *    owner has not revoked the marketplace's standing approval on the token contract;
 *  - `buyFor(tokenId, recipient)`, paying msg.value from the platform treasury for a buyer
 *    who paid the platform off chain.
 * Owners may also `list`, `unlist`, `buy` and `withdraw` directly with their own keys.
 * Nobody else can list a token; a listing by a non-owner reverts with NotTokenOwner.
 */
contract Marketplace is AccessControl, ReentrancyGuard {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Gas forwarded to each payee in `withdrawFor`, so one payee cannot eat the batch.
    uint256 public constant BATCH_WITHDRAW_GAS = 100_000;
    /// @notice Upper bound on one `withdrawFor` batch.
    uint256 public constant MAX_BATCH = 100;

    struct Listing {
        address seller;
        uint256 price;
    }

    IPAssetToken public immutable token;
    mapping(uint256 tokenId => Listing) private _listings;
    mapping(address payee => uint256) private _pending;
    uint256 public totalPending;

    event Listed(uint256 indexed tokenId, address indexed seller, uint256 price, address indexed by);
    event Unlisted(uint256 indexed tokenId, address indexed by);
    event Sold(uint256 indexed tokenId, address indexed seller, address indexed buyer, uint256 price, uint256 royalty);
    event SellerCredited(uint256 indexed tokenId, address indexed seller, uint256 amount);
    event RoyaltyCredited(uint256 indexed tokenId, address indexed coCreator, uint256 amount);
    event TransferredFor(uint256 indexed tokenId, address indexed from, address indexed to);
    event Withdrawn(address indexed payee, uint256 amount);
    event WithdrawalFailed(address indexed payee, uint256 amount);

    error NotTokenOwner(uint256 tokenId, address caller);
    error MarketplaceNotApproved(uint256 tokenId, address owner);
    error InvalidPrice();
    error NotListed(uint256 tokenId);
    error ListingStale(uint256 tokenId);
    error WrongPayment(uint256 expected, uint256 sent);
    error BuyerIsSeller(uint256 tokenId);
    error InvalidRecipient();
    error NothingToWithdraw(address payee);
    error TransferFailed(address payee, uint256 amount);
    error BatchTooLarge(uint256 count, uint256 max);

    constructor(IPAssetToken token_, address admin) {
        token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(OPERATOR_ROLE, admin);
    }

    /// @notice The owner lists its token at `price` wei.
    function list(uint256 tokenId, uint256 price) external {
        address owner = token.ownerOf(tokenId);
        if (owner != msg.sender) revert NotTokenOwner(tokenId, msg.sender);
        _list(tokenId, owner, price);
    }

    /// @notice The platform operator lists a token on its owner's behalf.
    function listFor(uint256 tokenId, uint256 price) external onlyRole(OPERATOR_ROLE) {
        _list(tokenId, token.ownerOf(tokenId), price);
    }

    /// @notice Remove a listing (the current owner, the listing seller or the operator).
    function unlist(uint256 tokenId) external {
        Listing memory listing = _listings[tokenId];
        if (listing.seller == address(0)) revert NotListed(tokenId);
        if (
            msg.sender != listing.seller && msg.sender != token.ownerOf(tokenId)
                && !hasRole(OPERATOR_ROLE, msg.sender)
        ) revert NotTokenOwner(tokenId, msg.sender);
        delete _listings[tokenId];
        emit Unlisted(tokenId, msg.sender);
    }

    /**
     * @notice The platform operator moves a token from its owner to `to` (a gift or an off-chain
     *         sale the owner asked for), while the owner has not revoked the marketplace's
     *         approval. Any listing of the token is removed.
     */
    function transferFor(uint256 tokenId, address to) external onlyRole(OPERATOR_ROLE) nonReentrant {
        if (to == address(0)) revert InvalidRecipient();
        address owner = token.ownerOf(tokenId);
        if (!token.isApprovedForAll(owner, address(this)) && token.getApproved(tokenId) != address(this)) {
            revert MarketplaceNotApproved(tokenId, owner);
        }
        if (_listings[tokenId].seller != address(0)) {
            delete _listings[tokenId];
            emit Unlisted(tokenId, msg.sender);
        }
        emit TransferredFor(tokenId, owner, to);
        token.safeTransferFrom(owner, to, tokenId);
    }

    /// @notice Buy a listed token for exactly its price; the token goes to the caller.
    function buy(uint256 tokenId) external payable nonReentrant {
        _buy(tokenId, msg.sender);
    }

    /// @notice The platform operator buys for `recipient`, paying from its treasury.
    function buyFor(uint256 tokenId, address recipient) external payable onlyRole(OPERATOR_ROLE) nonReentrant {
        if (recipient == address(0)) revert InvalidRecipient();
        _buy(tokenId, recipient);
    }

    /// @notice Pay the caller its whole pending balance; reverts if the transfer fails.
    function withdraw() external nonReentrant {
        uint256 amount = _pending[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _pending[msg.sender] = 0;
        totalPending -= amount;
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    /**
     * @notice Pay each payee its own pending balance. Payees with nothing pending are skipped;
     *         a payee whose transfer fails keeps its balance and a WithdrawalFailed is emitted.
     */
    function withdrawFor(address[] calldata payees) external nonReentrant {
        if (payees.length > MAX_BATCH) revert BatchTooLarge(payees.length, MAX_BATCH);
        for (uint256 i = 0; i < payees.length; i++) {
            address payee = payees[i];
            uint256 amount = _pending[payee];
            if (amount == 0) continue;
            _pending[payee] = 0;
            (bool ok,) = payable(payee).call{value: amount, gas: BATCH_WITHDRAW_GAS}("");
            if (ok) {
                totalPending -= amount;
                emit Withdrawn(payee, amount);
            } else {
                _pending[payee] = amount;
                emit WithdrawalFailed(payee, amount);
            }
        }
    }

    /// @notice The listing of a token (seller zero when not listed).
    function listingOf(uint256 tokenId) external view returns (Listing memory) {
        return _listings[tokenId];
    }

    /// @notice Wei credited to `payee` and not yet withdrawn.
    function pendingWithdrawal(address payee) external view returns (uint256) {
        return _pending[payee];
    }

    function _list(uint256 tokenId, address owner, uint256 price) private {
        if (price == 0) revert InvalidPrice();
        if (!token.isApprovedForAll(owner, address(this)) && token.getApproved(tokenId) != address(this)) {
            revert MarketplaceNotApproved(tokenId, owner);
        }
        _listings[tokenId] = Listing(owner, price);
        emit Listed(tokenId, owner, price, msg.sender);
    }

    function _buy(uint256 tokenId, address recipient) private {
        Listing memory listing = _listings[tokenId];
        if (listing.seller == address(0)) revert NotListed(tokenId);
        if (msg.value != listing.price) revert WrongPayment(listing.price, msg.value);
        if (token.ownerOf(tokenId) != listing.seller) revert ListingStale(tokenId);
        if (recipient == listing.seller) revert BuyerIsSeller(tokenId);
        // Effects before the interaction (the token transfer may call the recipient).
        delete _listings[tokenId];

        (, uint256 royalty) = token.royaltyInfo(tokenId, listing.price);
        if (royalty > 0) _creditRoyalty(tokenId, royalty);
        uint256 proceeds = listing.price - royalty;
        _pending[listing.seller] += proceeds;
        emit SellerCredited(tokenId, listing.seller, proceeds);
        totalPending += listing.price;

        emit Sold(tokenId, listing.seller, recipient, listing.price, royalty);
        token.safeTransferFrom(listing.seller, recipient, tokenId);
    }

    function _creditRoyalty(uint256 tokenId, uint256 royalty) private {
        IPAssetToken.CoCreator[] memory creators = token.coCreatorsOf(tokenId);
        uint256[] memory parts = new uint256[](creators.length);
        uint256 paid;
        for (uint256 i = 0; i < creators.length; i++) {
            parts[i] = (royalty * creators[i].shareBps) / token.TOTAL_SHARES_BPS();
            paid += parts[i];
        }
        // The rounding remainder goes to the first co-creator (documented above).
        parts[0] += royalty - paid;
        for (uint256 i = 0; i < creators.length; i++) {
            _pending[creators[i].account] += parts[i];
            emit RoyaltyCredited(tokenId, creators[i].account, parts[i]);
        }
    }
}
