// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/**
 * @title StakingVault
 * @notice Stakes of the stakers' own ether at an APR fixed by a quote the staking service
 *         signs, with every reward a stake can earn reserved from a capped pool when it opens.
 *         Money only ever goes to a stake's staker; no key of the platform can move principal
 *         or pool ether (see services/chain/CONTRACTS.md for every role).
 *
 * Quotes: the staking service's quote key signs `StakeQuote` (EIP-712, domain
 * "IPheronStakingVault" version "1", bound to the chain id and this contract's address). The
 * staker itself calls `stake(quote, signature)` sending exactly `quote.amount`; the quote must
 * name the caller, be unexpired (block.timestamp <= expiry) and carry a nonce the staker has not
 * used (a used nonce is refused: no replay). ECDSA for an EOA quote signer, EIP-1271 for a
 * contract one.
 *
 * Rounding rule (one rule, documented): a year is 365 days (31,536,000 s), also across a leap
 * year.
 *   reward (the reservation) = ceil(amount * aprBps * duration / (10,000 * 365 days))
 *     rounded UP: at most 1 wei in the staker's favour, so a tiny stake with apr > 0 never
 *     earns zero forever;
 *   accrued(t)              = floor(reward * min(t - start, duration) / duration)
 *     per-second linear, reaching exactly `reward` at the end and never exceeding it.
 * claim pays accrued - claimed. unstake at/after the end pays principal + reward - claimed;
 * before the end principal + accrued - claimed - penalty, penalty = floor(principal *
 * penaltyBps / 10,000); the penalty and the unearned reservation (reward - accrued) return to
 * the free pool.
 *
 * Invariant: this contract's ether balance == totalPrincipal + poolFree + poolReserved (only
 * ether forced in without a call, e.g. by selfdestruct, can make it larger; the chain service's
 * reconciliation names such drift).
 *
 * Governance: `owner` is an OpenZeppelin TimelockController fixed at deployment; its only power
 * is `setQuoteSigner`. `penaltyBps` is immutable. Nothing lets the owner, the quote signer or
 * anyone else move principal or pool ether: the only ether-moving functions pay the stake's
 * own staker (claim, unstake) or add to the pool (fund).
 *
 * EIP-1271 check: the plain-Solidity implementation of OpenZeppelin 5.0's SignatureChecker
 * (OpenZeppelin 5.7's copies memory with MCOPY, which pre-Cancun nodes lack; see compile.js).
 */
contract StakingVault is EIP712, ReentrancyGuard {
    struct StakeQuote {
        address staker;
        uint256 tokenId;
        uint256 amount;
        uint256 aprBps;
        uint256 duration;
        uint256 expiry;
        uint256 nonce;
    }

    struct Stake {
        address staker;
        uint64 start;
        uint64 end;
        bool closed;
        uint256 tokenId;
        uint256 amount;
        uint256 aprBps;
        uint256 reward;
        uint256 claimed;
        uint256 nonce;
        bytes32 quoteHash;
    }

    bytes32 public constant STAKE_QUOTE_TYPEHASH = keccak256(
        "StakeQuote(address staker,uint256 tokenId,uint256 amount,uint256 aprBps,uint256 duration,uint256 expiry,"
        "uint256 nonce)"
    );
    uint256 public constant BPS = 10_000;
    /// @notice The year of the APR: 365 days, leap years included.
    uint256 public constant YEAR = 365 days;
    /// @notice Longest stake a quote may name (keeps start/end in 64 bits and the products small).
    uint256 public constant MAX_DURATION = 100 * 365 days;

    /// @notice The TimelockController that alone may change the quote signer.
    address public immutable owner;
    /// @notice Share of principal kept on an unstake before the end, in basis points.
    uint16 public immutable penaltyBps;

    /// @notice The key (or EIP-1271 wallet) whose quotes open stakes.
    address public quoteSigner;
    /// @notice Pool ether no stake has reserved.
    uint256 public poolFree;
    /// @notice Rewards reserved for open stakes and not yet paid.
    uint256 public poolReserved;
    /// @notice Principal of the open stakes.
    uint256 public totalPrincipal;
    /// @notice Stakes opened so far (ids are 1..stakeCount).
    uint256 public stakeCount;

    mapping(uint256 stakeId => Stake) private _stakes;
    mapping(address staker => mapping(uint256 nonce => bool)) private _nonceUsed;

    event StakeOpened(
        uint256 indexed stakeId, address indexed staker, uint256 indexed tokenId, uint256 amount, uint256 aprBps,
        uint64 start, uint64 end, uint256 reward, uint256 nonce, bytes32 quoteHash
    );
    event RewardsClaimed(uint256 indexed stakeId, address indexed staker, uint256 amount);
    event Unstaked(
        uint256 indexed stakeId, address indexed staker, uint256 paid, uint256 rewardsPaid, uint256 penalty, bool early
    );
    event PoolFunded(address indexed from, uint256 amount);
    event QuoteSignerChanged(address previous, address current);

    error InvalidOwner(address owner);
    error InvalidQuoteSigner(address signer);
    error PenaltyTooHigh(uint16 penaltyBps, uint256 maxBps);
    error WrongStaker(address sender, address staker);
    error ZeroStake();
    error WrongStakeValue(uint256 expected, uint256 sent);
    error QuoteExpired(uint256 expiry, uint256 nowTime);
    error InvalidDuration(uint256 duration, uint256 maxDuration);
    error QuoteNonceUsed(address staker, uint256 nonce);
    error InvalidQuoteSignature(bytes32 quoteHash);
    error PoolInsufficient(uint256 needed, uint256 free);
    error UnknownStake(uint256 stakeId);
    error NotStakeOwner(uint256 stakeId, address caller);
    error StakeIsClosed(uint256 stakeId);
    error NothingToClaim(uint256 stakeId);
    error ZeroFunding();
    error NotOwner(address caller);
    error TransferFailed(address payee, uint256 amount);

    constructor(address owner_, address quoteSigner_, uint16 penaltyBps_) EIP712("IPheronStakingVault", "1") {
        // The owner must be a TimelockController with a non-zero delay (an EOA fails this call).
        if (owner_.code.length == 0 || TimelockController(payable(owner_)).getMinDelay() == 0) {
            revert InvalidOwner(owner_);
        }
        if (quoteSigner_ == address(0)) revert InvalidQuoteSigner(quoteSigner_);
        if (penaltyBps_ > BPS) revert PenaltyTooHigh(penaltyBps_, BPS);
        owner = owner_;
        quoteSigner = quoteSigner_;
        penaltyBps = penaltyBps_;
        emit QuoteSignerChanged(address(0), quoteSigner_);
    }

    // ------------------------------------------------------------------ stakers

    /// @notice Open a stake with the caller's own ether under a signed quote (see the notice).
    function stake(StakeQuote calldata quote, bytes calldata signature)
        external
        payable
        nonReentrant
        returns (uint256 stakeId)
    {
        if (msg.sender != quote.staker) revert WrongStaker(msg.sender, quote.staker);
        if (quote.amount == 0) revert ZeroStake();
        if (msg.value != quote.amount) revert WrongStakeValue(quote.amount, msg.value);
        if (block.timestamp > quote.expiry) revert QuoteExpired(quote.expiry, block.timestamp);
        if (quote.duration == 0 || quote.duration > MAX_DURATION) revert InvalidDuration(quote.duration, MAX_DURATION);
        if (_nonceUsed[quote.staker][quote.nonce]) revert QuoteNonceUsed(quote.staker, quote.nonce);
        bytes32 quoteHash = hashQuote(quote);
        if (!_isValidSignatureNow(quoteSigner, quoteHash, signature)) revert InvalidQuoteSignature(quoteHash);
        uint256 reward = reservationFor(quote.amount, quote.aprBps, quote.duration);
        uint256 free = poolFree;
        if (free < reward) revert PoolInsufficient(reward, free);

        _nonceUsed[quote.staker][quote.nonce] = true;
        poolFree = free - reward;
        poolReserved += reward;
        totalPrincipal += quote.amount;
        stakeId = ++stakeCount;
        _open(stakeId, quote, reward, quoteHash);
    }

    /// @notice Pay the staker what its stake has accrued and not yet been paid.
    function claim(uint256 stakeId) external nonReentrant returns (uint256 amount) {
        Stake storage s = _ownStake(stakeId);
        amount = _accrued(s) - s.claimed;
        if (amount == 0) revert NothingToClaim(stakeId);
        s.claimed += amount;
        poolReserved -= amount;
        emit RewardsClaimed(stakeId, msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// @notice Close the stake: principal and unpaid rewards to the staker (minus the penalty before the end).
    function unstake(uint256 stakeId) external nonReentrant returns (uint256 paid) {
        Stake storage s = _ownStake(stakeId);
        uint256 amount = s.amount;
        uint256 reward = s.reward;
        uint256 claimed = s.claimed;
        bool early = block.timestamp < s.end;
        uint256 earned = early ? _accrued(s) : reward;
        uint256 rewardsPaid = earned - claimed;
        uint256 penalty = early ? (amount * penaltyBps) / BPS : 0;
        paid = amount + rewardsPaid - penalty;

        s.closed = true;
        s.claimed = earned;
        totalPrincipal -= amount;
        poolReserved -= reward - claimed;
        if (early) poolFree += (reward - earned) + penalty;
        emit Unstaked(stakeId, msg.sender, paid, rewardsPaid, penalty, early);
        _pay(msg.sender, paid);
    }

    // ------------------------------------------------------------------ pool

    /// @notice Add the sent ether to the free reward pool (anyone).
    function fund() external payable {
        if (msg.value == 0) revert ZeroFunding();
        poolFree += msg.value;
        emit PoolFunded(msg.sender, msg.value);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Change the quote key (owner = the timelock only). Open stakes are unaffected.
    function setQuoteSigner(address signer) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (signer == address(0)) revert InvalidQuoteSigner(signer);
        emit QuoteSignerChanged(quoteSigner, signer);
        quoteSigner = signer;
    }

    // ------------------------------------------------------------------ views

    /// @notice The EIP-712 digest of `quote` (what the quote signer signs).
    function hashQuote(StakeQuote calldata quote) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(STAKE_QUOTE_TYPEHASH, quote)));
    }

    /// @notice ceil(amount * aprBps * duration / (10,000 * 365 days)): what a stake reserves.
    function reservationFor(uint256 amount, uint256 aprBps, uint256 duration) public pure returns (uint256) {
        uint256 numerator = amount * aprBps * duration;
        return numerator == 0 ? 0 : (numerator - 1) / (BPS * YEAR) + 1;
    }

    function getStake(uint256 stakeId) external view returns (Stake memory) {
        Stake memory s = _stakes[stakeId];
        if (s.staker == address(0)) revert UnknownStake(stakeId);
        return s;
    }

    /// @notice Rewards earned by now (a closed stake: what it was paid in all).
    function accrued(uint256 stakeId) external view returns (uint256) {
        Stake storage s = _stakes[stakeId];
        if (s.staker == address(0)) revert UnknownStake(stakeId);
        return s.closed ? s.claimed : _accrued(s);
    }

    function nonceUsed(address staker, uint256 nonce) external view returns (bool) {
        return _nonceUsed[staker][nonce];
    }

    /// @notice The EIP-712 domain separator (chain id and this address bound in).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    /// @dev Record the stake and emit StakeOpened (apart from `stake` to keep its stack shallow).
    function _open(uint256 stakeId, StakeQuote calldata quote, uint256 reward, bytes32 quoteHash) private {
        Stake storage s = _stakes[stakeId];
        s.staker = quote.staker;
        s.start = uint64(block.timestamp);
        s.end = uint64(block.timestamp + quote.duration);
        s.tokenId = quote.tokenId;
        s.amount = quote.amount;
        s.aprBps = quote.aprBps;
        s.reward = reward;
        s.nonce = quote.nonce;
        s.quoteHash = quoteHash;
        emit StakeOpened(stakeId, s.staker, s.tokenId, s.amount, s.aprBps, s.start, s.end, reward, s.nonce, quoteHash);
    }

    function _ownStake(uint256 stakeId) private view returns (Stake storage s) {
        s = _stakes[stakeId];
        if (s.staker == address(0)) revert UnknownStake(stakeId);
        if (s.staker != msg.sender) revert NotStakeOwner(stakeId, msg.sender);
        if (s.closed) revert StakeIsClosed(stakeId);
    }

    /// @dev floor(reward * min(now - start, duration) / duration).
    function _accrued(Stake storage s) private view returns (uint256) {
        uint256 duration = uint256(s.end) - uint256(s.start);
        uint256 elapsed = block.timestamp >= s.end ? duration : block.timestamp - uint256(s.start);
        return (s.reward * elapsed) / duration;
    }

    function _pay(address payee, uint256 amount) private {
        (bool ok,) = payable(payee).call{value: amount}("");
        if (!ok) revert TransferFailed(payee, amount);
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
