"""Retrieved text is data: spotting sentences that try to instruct the assistant.

A document can contain words aimed at a language model ("ignore previous
instructions", "you are now..."). Such sentences are never quoted as an answer
and never count as support for a generated claim; generative prompts also fence
every passage as quoted material.
"""

from __future__ import annotations

import re

_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|any|your)\b.{0,30}"
    r"\b(instructions?|prompts?|rules|directions)\b"
    r"|\b(system prompt|developer message|jailbreak)\b"
    r"|\byou are (now )?(an? )?(ai|assistant|language model|chatbot|llm)\b"
    r"|\b(as an ai|ai assistant|language model)\b.{0,40}\b(must|should|will|always|never)\b"
    r"|\b(respond|reply|answer) (only )?with\b.{0,40}\b(exactly|only|the word|the phrase)\b",
    re.I | re.S,
)


def is_instruction_like(text: str) -> bool:
    """Does ``text`` read as an instruction to an AI rather than council business?"""
    return bool(_INSTRUCTION.search(text))
