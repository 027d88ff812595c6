"""The embedded model, run for real in-process (slow: loads SmolLM2-135M)."""

import json

import pytest

from penguin.errors import ModelError
from penguin.models import ChatRequest, load_model
from penguin.models.local import BUNDLED, bundled_path, file_sha256

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol():
    return load_model("local:smollm2", cache=False)


def test_bundled_weights_are_verified():
    assert file_sha256(bundled_path("smollm2")) == BUNDLED["smollm2"][2]


async def test_answers_a_chat_request(smol):
    res = await smol.generate(ChatRequest.chat(None, "Name one fruit.", temperature=0.0, max_tokens=12, seed=0))
    assert res.text.strip() and 0 < res.completion_tokens <= 12 and res.prompt_tokens > 5 and res.latency_s > 0
    assert smol.identity == "gguf:" + BUNDLED["smollm2"][2]


async def test_fixed_seed_is_deterministic(smol):
    req = ChatRequest.chat(None, "Tell me a short story about a lighthouse.", temperature=0.9, max_tokens=24, seed=42)
    a = await smol.generate(req)
    await smol.generate(req.model_copy(update={"seed": 7}))  # disturb the sampler state in between
    b = await smol.generate(req)
    assert a.text == b.text


async def test_grammar_forces_a_parseable_format(smol):
    grammar = 'root ::= "Score: " [1-5] "/5"'
    res = await smol.generate(ChatRequest.chat(None, "Rate the colour blue.", temperature=0.8, max_tokens=16,
                                                seed=3, grammar=grammar))
    assert res.text.strip() in {f"Score: {i}/5" for i in range(1, 6)}


async def test_json_schema_forces_valid_json(smol):
    schema = {"type": "object", "properties": {"mood": {"type": "string", "enum": ["calm", "tense"]},
                                               "level": {"type": "integer", "enum": [1, 2, 3]}},
              "required": ["mood", "level"], "additionalProperties": False}
    res = await smol.generate(ChatRequest.chat(None, "Describe the weather.", temperature=0.8, max_tokens=60,
                                                seed=5, json_schema=schema))
    data = json.loads(res.text)
    assert data["mood"] in ("calm", "tense") and data["level"] in (1, 2, 3)


async def test_invalid_grammar_is_a_model_error(smol):
    with pytest.raises(ModelError, match="grammar"):
        await smol.generate(ChatRequest.chat(None, "hi", max_tokens=4, grammar="root ::= ((("))
