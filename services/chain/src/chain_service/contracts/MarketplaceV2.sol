// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IPAssetToken} from "./IPAssetToken.sol";

/**
 * @title MarketplaceV2
 * @notice Non-custodial fixed-price sales of IPAssetToken tokens under EIP-712 orders signed by
 *         their owners. Nobody's token moves without its owner's signature, nobody's money moves
 *         except from the wallet that sends the purchase, and no key of the platform can take
 *         either (see services/chain/CONTRACTS.md for every role).
 *
 * Orders: a seller signs `Order` (EIP-712, domain "IPheron Marketplace" version "2", bound to the
 * chain id and this contract's address) off chain; anyone holding the order and its signature
 * calls `fulfill` (token to the caller) or `fulfillFor` (token to a named recipient), paying
 * exactly `price` wei with the call. The order hash is the full EIP-712 digest (`hashOrder`), so
 * it is unique per chain and marketplace. An order is fillable while: the signature is the
 * seller's (ECDSA for an EOA, EIP-1271 `isValidSignature` for a contract wallet), block time is in
 * [startTime, endTime), its counter equals the seller's current counter, it is neither cancelled
 * nor filled, the seller still owns the token and this marketplace may move it (the token's
 * standing approval or an ERC-721 approval). A seller invalidates orders one by one (`cancel`) or
 * all at once (`incrementCounter`). Only native ETH (currency = address(0)) is accepted.
 *
 * Payments (pull): a sale only credits balances; nothing is sent during a sale. The price is split
 *   fee      = floor(price * feeBps / 10,000)            → the fee recipient (0 while feeBps = 0)
 *   royalty  = EIP-2981 royaltyInfo(tokenId, price)      → the token's co-creators by share:
 *              each floor(royalty * shareBps / 10,000), the remainder (< 1 wei per co-creator)
 *              to the FIRST co-creator, exactly as Marketplace v1
 *   seller   = price - royalty - fee
 * the same way on every sale (first sale and resales alike). `withdraw()` pays the caller its
 * balance; `withdrawFor(payees)` (anyone may call it) pays each listed payee its own balance only,
 * forwarding a bounded amount of gas, and skips a payee whose transfer fails (WithdrawalFailed).
 * Invariant: this contract's ether balance == totalPending == the sum of all pending balances.
 *
 * Governance: the only privileged functions are `setFee` (fee recipient and bps, capped at
 * MAX_FEE_BPS), callable only by `governor`, an OpenZeppelin TimelockController fixed at
 * deployment, so every change is public for at least the timelock's delay before it applies.
 * Nothing lets the governor (or anyone but the owner) move a token or touch a balance.
 *
 * EIP-1271 check: the plain-Solidity implementation of OpenZeppelin 5.0's SignatureChecker
 * (OpenZeppelin 5.7's copies memory with MCOPY, which pre-Cancun nodes lack; see compile.js).
 */
contract MarketplaceV2 is EIP712, ReentrancyGuard {
    struct Order {
        address token;
        uint256 tokenId;
        address seller;
        uint256 price;
        address currency;
        uint256 counter;
        uint256 salt;
        uint256 startTime;
        uint256 endTime;
    }

    enum OrderStatus {
        None,
        Filled,
        Cancelled
    }

    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address token,uint256 tokenId,address seller,uint256 price,address currency,uint256 counter,"
        "uint256 salt,uint256 startTime,uint256 endTime)"
    );
    /// @notice Basis points denominator.
    uint256 public constant BPS = 10_000;
    /// @notice Cap on the platform fee (10 %), so fee + royalty (≤ 50 %) never exceeds the price.
    uint16 public constant MAX_FEE_BPS = 1_000;
    /// @notice Gas forwarded to each payee in `withdrawFor`, so one payee cannot eat the batch.
    uint256 public constant BATCH_WITHDRAW_GAS = 100_000;
    /// @notice Upper bound on one `withdrawFor` or `cancel` batch.
    uint256 public constant MAX_BATCH = 100;

    IPAssetToken public immutable token;
    /// @notice The TimelockController that alone may change the fee wiring.
    address public immutable governor;

    address public feeRecipient;
    uint16 public feeBps;
    /// @notice Sum of all pending balances (equals this contract's ether balance).
    uint256 public totalPending;

    mapping(address seller => uint256) private _counters;
    mapping(bytes32 orderHash => OrderStatus) private _status;
    mapping(address payee => uint256) private _pending;

    event OrderFulfilled(
        bytes32 indexed orderHash, address indexed seller, address indexed recipient, address payer,
        uint256 tokenId, uint256 price
    );
    event Sold(
        uint256 indexed tokenId, address indexed seller, address indexed buyer, uint256 price, uint256 royalty,
        uint256 fee, bytes32 orderHash
    );
    event SellerCredited(uint256 indexed tokenId, address indexed seller, uint256 amount);
    event RoyaltyCredited(uint256 indexed tokenId, address indexed coCreator, uint256 amount);
    event FeeCredited(uint256 indexed tokenId, address indexed recipient, uint256 amount);
    event Cancelled(bytes32 indexed orderHash, address indexed seller);
    event CounterIncremented(address indexed seller, uint256 counter);
    event Withdrawn(address indexed payee, uint256 amount);
    event WithdrawalFailed(address indexed payee, uint256 amount);
    event FeeChanged(address indexed recipient, uint16 feeBps);

    error UnsupportedToken(address token);
    error UnsupportedCurrency(address currency);
    error InvalidSignature(bytes32 orderHash);
    error OrderNotStarted(bytes32 orderHash, uint256 startTime);
    error OrderExpired(bytes32 orderHash, uint256 endTime);
    error OrderCounterInvalid(bytes32 orderHash, uint256 orderCounter, uint256 currentCounter);
    error OrderAlreadyFilled(bytes32 orderHash);
    error OrderIsCancelled(bytes32 orderHash);
    error OrderStale(bytes32 orderHash, address owner);
    error MarketplaceNotApproved(uint256 tokenId, address owner);
    error WrongPayment(uint256 expected, uint256 sent);
    error BuyerIsSeller(bytes32 orderHash);
    error InvalidRecipient();
    error NotSeller(bytes32 orderHash, address caller);
    error NothingToWithdraw(address payee);
    error TransferFailed(address payee, uint256 amount);
    error BatchTooLarge(uint256 count, uint256 max);
    error NotGovernor(address caller);
    error InvalidGovernor(address governor);
    error FeeTooHigh(uint16 feeBps, uint16 maxBps);
    error InvalidFeeRecipient();

    constructor(IPAssetToken token_, address governor_) EIP712("IPheron Marketplace", "2") {
        // The governor must be a TimelockController with a non-zero delay (an EOA fails this call).
        if (governor_.code.length == 0 || TimelockController(payable(governor_)).getMinDelay() == 0) {
            revert InvalidGovernor(governor_);
        }
        token = token_;
        governor = governor_;
    }

    // ------------------------------------------------------------------ sales

    /// @notice Fill `order`, paying exactly its price; the token goes to the caller.
    function fulfill(Order calldata order, bytes calldata signature) external payable nonReentrant returns (bytes32) {
        return _fulfill(order, signature, msg.sender);
    }

    /// @notice Fill `order`, paying exactly its price; the token goes to `recipient`.
    function fulfillFor(Order calldata order, bytes calldata signature, address recipient)
        external
        payable
        nonReentrant
        returns (bytes32)
    {
        if (recipient == address(0)) revert InvalidRecipient();
        return _fulfill(order, signature, recipient);
    }

    // ------------------------------------------------------------------ sellers

    /// @notice The seller cancels its orders (each must be signed by, i.e. name, the caller).
    function cancel(Order[] calldata orders) external {
        if (orders.length > MAX_BATCH) revert BatchTooLarge(orders.length, MAX_BATCH);
        for (uint256 i = 0; i < orders.length; i++) {
            bytes32 orderHash = hashOrder(orders[i]);
            if (orders[i].seller != msg.sender) revert NotSeller(orderHash, msg.sender);
            if (_status[orderHash] == OrderStatus.Filled) revert OrderAlreadyFilled(orderHash);
            _status[orderHash] = OrderStatus.Cancelled;
            emit Cancelled(orderHash, msg.sender);
        }
    }

    /// @notice Invalidate every order the caller signed so far (their counter no longer matches).
    function incrementCounter() external returns (uint256 newCounter) {
        newCounter = ++_counters[msg.sender];
        emit CounterIncremented(msg.sender, newCounter);
    }

    // ------------------------------------------------------------------ payees

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
     * @notice Pay each payee its own pending balance (anyone may call; money only goes to its owner).
     *         Payees with nothing pending are skipped; a payee whose transfer fails (or needs more
     *         than BATCH_WITHDRAW_GAS) keeps its balance and a WithdrawalFailed is emitted.
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

    // ------------------------------------------------------------------ governance

    /// @notice Set the platform fee (governor = the timelock only). Balances already credited stay.
    function setFee(address recipient, uint16 bps) external {
        if (msg.sender != governor) revert NotGovernor(msg.sender);
        if (bps > MAX_FEE_BPS) revert FeeTooHigh(bps, MAX_FEE_BPS);
        if (bps > 0 && recipient == address(0)) revert InvalidFeeRecipient();
        feeRecipient = recipient;
        feeBps = bps;
        emit FeeChanged(recipient, bps);
    }

    // ------------------------------------------------------------------ views

    /// @notice The EIP-712 digest of `order` (what the seller signs; also the order's id).
    function hashOrder(Order calldata order) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ORDER_TYPEHASH, order)));
    }

    /// @notice Filled, cancelled, or None (never seen; may still be invalid by counter or time).
    function orderStatus(bytes32 orderHash) external view returns (OrderStatus) {
        return _status[orderHash];
    }

    /// @notice The seller's current counter; only orders carrying it can be filled.
    function counterOf(address seller) external view returns (uint256) {
        return _counters[seller];
    }

    /// @notice Wei credited to `payee` and not yet withdrawn.
    function pendingWithdrawal(address payee) external view returns (uint256) {
        return _pending[payee];
    }

    /// @notice The EIP-712 domain separator (chain id and this address bound in).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    function _fulfill(Order calldata order, bytes calldata signature, address recipient) private returns (bytes32) {
        bytes32 orderHash = _validate(order, signature, recipient);
        // Effects before the interaction (the token transfer calls the recipient).
        _status[orderHash] = OrderStatus.Filled;
        (uint256 royalty, uint256 fee) = _credit(order.tokenId, order.seller, order.price);
        emit Sold(order.tokenId, order.seller, recipient, order.price, royalty, fee, orderHash);
        emit OrderFulfilled(orderHash, order.seller, recipient, msg.sender, order.tokenId, order.price);
        token.safeTransferFrom(order.seller, recipient, order.tokenId);
        return orderHash;
    }

    /// @dev Every condition of a fill (see the contract's notice); returns the order hash.
    function _validate(Order calldata order, bytes calldata signature, address recipient)
        private
        view
        returns (bytes32 orderHash)
    {
        orderHash = hashOrder(order);
        if (order.token != address(token)) revert UnsupportedToken(order.token);
        if (order.currency != address(0)) revert UnsupportedCurrency(order.currency);
        OrderStatus status = _status[orderHash];
        if (status == OrderStatus.Filled) revert OrderAlreadyFilled(orderHash);
        if (status == OrderStatus.Cancelled) revert OrderIsCancelled(orderHash);
        if (block.timestamp < order.startTime) revert OrderNotStarted(orderHash, order.startTime);
        if (block.timestamp >= order.endTime) revert OrderExpired(orderHash, order.endTime);
        uint256 current = _counters[order.seller];
        if (order.counter != current) revert OrderCounterInvalid(orderHash, order.counter, current);
        if (!_isValidSignatureNow(order.seller, orderHash, signature)) revert InvalidSignature(orderHash);
        address owner = token.ownerOf(order.tokenId);
        if (owner != order.seller) revert OrderStale(orderHash, owner);
        if (!token.isApprovedForAll(owner, address(this)) && token.getApproved(order.tokenId) != address(this)) {
            revert MarketplaceNotApproved(order.tokenId, owner);
        }
        if (recipient == order.seller) revert BuyerIsSeller(orderHash);
        if (msg.value != order.price) revert WrongPayment(order.price, msg.value);
    }

    /// @dev Credit fee, royalty split and seller proceeds; they sum to exactly `price`.
    function _credit(uint256 tokenId, address seller, uint256 price) private returns (uint256 royalty, uint256 fee) {
        fee = (price * feeBps) / BPS;
        if (fee > 0) {
            address recipient = feeRecipient;
            _pending[recipient] += fee;
            emit FeeCredited(tokenId, recipient, fee);
        }
        (, royalty) = token.royaltyInfo(tokenId, price);
        if (royalty > 0) _creditRoyalty(tokenId, royalty);
        uint256 proceeds = price - royalty - fee;
        _pending[seller] += proceeds;
        emit SellerCredited(tokenId, seller, proceeds);
        totalPending += price;
    }

    function _creditRoyalty(uint256 tokenId, uint256 royalty) private {
        IPAssetToken.CoCreator[] memory creators = token.coCreatorsOf(tokenId);
        uint256[] memory parts = new uint256[](creators.length);
        uint256 paid;
        for (uint256 i = 0; i < creators.length; i++) {
            parts[i] = (royalty * creators[i].shareBps) / BPS;
            paid += parts[i];
        }
        // The rounding remainder goes to the first co-creator (documented above).
        parts[0] += royalty - paid;
        for (uint256 i = 0; i < creators.length; i++) {
            _pending[creators[i].account] += parts[i];
            emit RoyaltyCredited(tokenId, creators[i].account, parts[i]);
        }
    }

    /// @dev OpenZeppelin 5.0's SignatureChecker.isValidSignatureNow: ECDSA for an account without
    ///      code, EIP-1271 for a contract.
    function _isValidSignatureNow(address signer, bytes32 hash, bytes calldata signature) private view returns (bool) {
        if (signer.code.length == 0) {
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        (bool success, bytes memory result) =
            signer.staticcall(abi.encodeCall(IERC1271.isValidSignature, (hash, signature)));
        return success && result.length >= 32
            && abi.decode(result, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }
}
