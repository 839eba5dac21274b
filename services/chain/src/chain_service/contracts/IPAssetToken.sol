// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title IPAssetToken
 * @notice One ERC-721 token per IPheron asset, with ERC-2981 royalties and the
 *         asset's co-creators and their basis-point shares recorded on chain.
 *
 * Access control (platform decision):
 *  - The IPheron platform is the only transaction sender in production. Its signer holds
 *    MINTER_ROLE and mints each asset to the owner's wallet; nobody else can mint.
 *  - DEFAULT_ADMIN_ROLE (the deployer) grants roles and wires the marketplace.
 *  - The marketplace is approved for every owner's tokens by default, so the platform can
 *    list and sell on a user's behalf without holding the user's key. An owner can revoke
 *    that standing approval at any time with `setMarketplaceApproval(false)`; then only
 *    explicit ERC-721 approvals apply.
 *
 * Royalties: `royaltyInfo` follows EIP-2981. The receiver it reports is the first co-creator
 * (for marketplaces that only know EIP-2981); the IPheron Marketplace instead splits the
 * royalty amount among all co-creators by their shares (see Marketplace).
 */
contract IPAssetToken is ERC721, ERC2981, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Shares are in basis points and must sum to this.
    uint16 public constant TOTAL_SHARES_BPS = 10_000;
    /// @notice Upper bound on co-creators so that a sale's royalty loop stays cheap.
    uint256 public constant MAX_CO_CREATORS = 20;
    /// @notice Royalty cap (50 %), the platform's business rule.
    uint96 public constant MAX_ROYALTY_BPS = 5_000;

    struct CoCreator {
        address account;
        uint16 shareBps;
    }

    uint256 private _nextTokenId = 1;
    address public marketplace;

    mapping(uint256 tokenId => string) private _tokenURIs;
    mapping(uint256 tokenId => CoCreator[]) private _coCreators;
    mapping(bytes16 assetId => uint256) private _tokenOfAsset;
    mapping(uint256 tokenId => bytes16) private _assetOfToken;
    mapping(address owner => bool) private _marketplaceRevoked;

    event AssetMinted(uint256 indexed tokenId, bytes16 indexed assetId, address indexed owner, string uri);
    event CoCreatorAdded(uint256 indexed tokenId, address indexed account, uint16 shareBps);
    event MarketplaceChanged(address indexed previous, address indexed current);
    event MarketplaceApprovalSet(address indexed owner, bool approved);

    error AssetAlreadyMinted(bytes16 assetId, uint256 tokenId);
    error InvalidAssetId();
    error NoCoCreators();
    error TooManyCoCreators(uint256 count, uint256 max);
    error CoCreatorsLengthMismatch(uint256 accounts, uint256 shares);
    error ZeroAddressCoCreator(uint256 index);
    error ZeroShare(uint256 index);
    error SharesMustSumTo10000(uint256 sum);
    error RoyaltyTooHigh(uint96 royaltyBps, uint96 maxBps);
    error UnknownAsset(bytes16 assetId);

    constructor(address admin) ERC721("IPheron IP Asset", "IPA") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /**
     * @notice Mint the token of one asset to `to`.
     * @param assetId the asset's UUID (16 bytes); one token per asset.
     * @param creators co-creator accounts; `sharesBps` their shares, summing to 10,000.
     * @param royaltyBps the royalty on each sale, in basis points of the price (≤ 5,000).
     */
    function mint(
        address to,
        bytes16 assetId,
        string calldata uri,
        address[] calldata creators,
        uint16[] calldata sharesBps,
        uint96 royaltyBps
    ) external onlyRole(MINTER_ROLE) returns (uint256 tokenId) {
        if (assetId == bytes16(0)) revert InvalidAssetId();
        uint256 existing = _tokenOfAsset[assetId];
        if (existing != 0) revert AssetAlreadyMinted(assetId, existing);
        if (creators.length == 0) revert NoCoCreators();
        if (creators.length > MAX_CO_CREATORS) revert TooManyCoCreators(creators.length, MAX_CO_CREATORS);
        if (creators.length != sharesBps.length) revert CoCreatorsLengthMismatch(creators.length, sharesBps.length);
        if (royaltyBps > MAX_ROYALTY_BPS) revert RoyaltyTooHigh(royaltyBps, MAX_ROYALTY_BPS);

        tokenId = _nextTokenId++;
        uint256 sum;
        for (uint256 i = 0; i < creators.length; i++) {
            if (creators[i] == address(0)) revert ZeroAddressCoCreator(i);
            if (sharesBps[i] == 0) revert ZeroShare(i);
            sum += sharesBps[i];
            _coCreators[tokenId].push(CoCreator(creators[i], sharesBps[i]));
            emit CoCreatorAdded(tokenId, creators[i], sharesBps[i]);
        }
        if (sum != TOTAL_SHARES_BPS) revert SharesMustSumTo10000(sum);

        _tokenOfAsset[assetId] = tokenId;
        _assetOfToken[tokenId] = assetId;
        _tokenURIs[tokenId] = uri;
        _setTokenRoyalty(tokenId, creators[0], royaltyBps);
        _safeMint(to, tokenId);
        emit AssetMinted(tokenId, assetId, to, uri);
    }

    /// @notice The token of an asset; reverts with UnknownAsset when it was never minted.
    function tokenOfAsset(bytes16 assetId) external view returns (uint256) {
        uint256 tokenId = _tokenOfAsset[assetId];
        if (tokenId == 0) revert UnknownAsset(assetId);
        return tokenId;
    }

    /// @notice The asset UUID of a token.
    function assetOf(uint256 tokenId) external view returns (bytes16) {
        _requireOwned(tokenId);
        return _assetOfToken[tokenId];
    }

    /// @notice The co-creators of a token and their shares (basis points, summing to 10,000).
    function coCreatorsOf(uint256 tokenId) external view returns (CoCreator[] memory) {
        _requireOwned(tokenId);
        return _coCreators[tokenId];
    }

    /// @notice Number of tokens minted so far.
    function totalMinted() external view returns (uint256) {
        return _nextTokenId - 1;
    }

    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return _tokenURIs[tokenId];
    }

    /// @notice Wire the marketplace that holds the standing approval (admin only).
    function setMarketplace(address newMarketplace) public virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        emit MarketplaceChanged(marketplace, newMarketplace);
        marketplace = newMarketplace;
    }

    /// @notice An owner grants (default) or revokes the marketplace's standing approval.
    function setMarketplaceApproval(bool approved) public virtual {
        _marketplaceRevoked[msg.sender] = !approved;
        emit MarketplaceApprovalSet(msg.sender, approved);
    }

    function isApprovedForAll(address owner, address operator) public view virtual override returns (bool) {
        if (operator != address(0) && operator == marketplace && !_marketplaceRevoked[owner]) {
            return true;
        }
        return super.isApprovedForAll(owner, operator);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, ERC2981, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }
}
