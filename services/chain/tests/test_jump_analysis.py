"""The embedded EVM's jump analysis is shared between message calls into the same code
(`evm_backend.share_jump_analysis`): every answer is the one py-evm's own analysis gives, a
JUMPDEST byte inside PUSH data stays an invalid jump target, and other code is analysed apart."""

from __future__ import annotations

from chain_service import evm_backend
from eth.vm.code_stream import CodeStream

# PUSH2 0x5b5b, JUMPDEST, PUSH1 0x5b, STOP, JUMPDEST: positions 1, 2 and 5 are PUSH data.
CODE = bytes([0x61, 0x5B, 0x5B, 0x5B, 0x60, 0x5B, 0x00, 0x5B])


def plain_answers(code: bytes) -> list[bool]:
    stream = CodeStream.__new__(CodeStream)
    evm_backend._plain_code_stream_init(stream, code)
    return [stream.is_valid_opcode(i) for i in range(len(code) + 2)]


def test_streams_of_one_code_share_the_analysis_and_answer_as_py_evm_does() -> None:
    evm_backend.share_jump_analysis()
    first = CodeStream(CODE)
    answers = [first.is_valid_opcode(i) for i in range(len(CODE) + 2)]
    assert answers == plain_answers(CODE)
    assert answers[:8] == [True, False, False, True, True, False, True, True]
    second = CodeStream(CODE)
    assert second.valid_positions is first.valid_positions and second.invalid_positions is first.invalid_positions
    assert [second.is_valid_opcode(i) for i in range(len(CODE) + 2)] == answers
    # Another code does not see this one's facts: here position 1 is an opcode.
    other = bytes([0x00, 0x5B, 0x00])
    assert CodeStream(other).valid_positions is not first.valid_positions
    assert [CodeStream(other).is_valid_opcode(i) for i in range(3)] == plain_answers(other)[:3] == [True, True, True]


def test_the_shared_analyses_are_bounded() -> None:
    evm_backend.share_jump_analysis()
    for i in range(evm_backend.ANALYSED_CODES + 10):
        CodeStream(bytes([0x60, i % 256, 0x00, i // 256]))
    assert len(evm_backend._analysis) <= evm_backend.ANALYSED_CODES
