// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/**
 * @title TestContractWallet
 * @notice Test fixture only (never deployed by the service): a minimal EIP-1271 contract
 *         wallet whose signatures are those of its single owner key. It can also be told to
 *         refuse ether, to prove that one failing payee never blocks a sale or a batch.
 */
contract TestContractWallet is IERC1271 {
    address public immutable owner;
    bool public refuseEther;

    constructor(address owner_, bool refuseEther_) {
        owner = owner_;
        refuseEther = refuseEther_;
    }

    function isValidSignature(bytes32 hash, bytes memory signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && signer == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }

    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }

    receive() external payable {
        require(!refuseEther, "refuses ether");
    }
}
