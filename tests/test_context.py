"""What one request asks of the model: the generation a user's settings make, and what of a
question and its conversation fits the window."""

from __future__ import annotations

from bot.context import (
    IMAGE_TOKENS,
    AttachedText,
    ChatDefaults,
    conversation_window,
    effective_generation,
    fit_question,
    holds_images,
    with_document,
)
from bot.llm import ChatMessage, ModelFacts
from bot.records import StoredImage, StoredMessage, UserSettings
from bot.roles import Role

DEFAULTS = ChatDefaults(temperature=0.7, num_ctx=8192, think=True, max_answer_tokens=None)
HELPFUL = Role("default", "You are helpful.")
TEMPLATE = Role("translator", "Translate into French: %s")


def image(n: int = 0) -> StoredImage:
    return StoredImage(f"sha{n}", b"jpeg%d" % n, 10, 10)


def test_the_runner_window_is_num_ctx_capped_at_the_models_whoever_asks() -> None:
    small = ModelFacts(context_length=4096)
    mine = effective_generation(small, UserSettings(num_ctx=2048, temperature=0.1), DEFAULTS)
    yours = effective_generation(small, UserSettings(), DEFAULTS)
    assert mine.options["num_ctx"] == yours.options["num_ctx"] == 4096, "no reload between us"
    assert (mine.context_tokens, yours.context_tokens) == (2048, 4096)
    assert (mine.options["temperature"], yours.options["temperature"]) == (0.1, 0.7)
    unknown = effective_generation(ModelFacts(context_length=None), UserSettings(), DEFAULTS)
    assert unknown.options["num_ctx"] == 8192


def test_a_users_context_never_exceeds_the_runner_window() -> None:
    generation = effective_generation(
        ModelFacts(context_length=4096), UserSettings(num_ctx=65536), DEFAULTS
    )
    assert generation.context_tokens == 4096
    assert generation.budget_tokens == 3072, "a quarter is left for the answer"


def test_think_is_asked_only_of_models_that_can_think() -> None:
    thinker = ModelFacts(context_length=None, capabilities=frozenset({"completion", "thinking"}))
    plain = ModelFacts(context_length=None, capabilities=frozenset({"completion"}))
    assert effective_generation(thinker, UserSettings(), DEFAULTS).think is True
    assert effective_generation(thinker, UserSettings(think=False), DEFAULTS).think is False
    assert effective_generation(plain, UserSettings(think=True), DEFAULTS).think is None


def test_the_longest_answer_and_the_image_cost_follow_the_configuration_and_the_model() -> None:
    capped = ChatDefaults(max_answer_tokens=500)
    gemma = ModelFacts(context_length=None, architecture="gemma3")
    generation = effective_generation(gemma, UserSettings(), capped)
    assert generation.options["num_predict"] == 500
    assert generation.image_tokens == 256
    llava = effective_generation(ModelFacts(context_length=None), UserSettings(), DEFAULTS)
    assert "num_predict" not in llava.options
    assert llava.image_tokens == IMAGE_TOKENS


def test_a_document_is_cut_to_its_room_and_said_so() -> None:
    document = AttachedText("notes.txt", "word " * 10_000)
    whole, cut = with_document("Summarise", document, None)
    assert not cut
    assert whole.startswith("Summarise\n\n--- notes.txt ---\n")
    assert whole.endswith("--- end of notes.txt ---")
    short, cut = with_document("Summarise", document, 100)
    assert cut
    assert len(short) < len(whole)


def test_an_album_larger_than_the_window_keeps_its_first_photos() -> None:
    generation = effective_generation(ModelFacts(context_length=None), UserSettings(), DEFAULTS)
    album = tuple(image(n) for n in range(5))  # 5 x 2880 tokens: more than 6144 can hold
    fitted = fit_question("What are these?", album, None, HELPFUL, generation)
    assert fitted.images == album[:2]
    assert fitted.images_cut
    one = fit_question("And this?", album[:1], None, HELPFUL, generation)
    assert one.images == album[:1]
    assert not one.images_cut


def test_the_window_wraps_every_question_of_a_template_role_and_keeps_images_in_place() -> None:
    earlier = [
        StoredMessage(1, "user", "bonjour", "complete", None, (image(1),)),
        StoredMessage(2, "assistant", "hello", "complete", "m"),
        StoredMessage(3, "assistant", "", "error", None),
    ]
    generation = effective_generation(ModelFacts(context_length=None), UserSettings(), DEFAULTS)
    window = conversation_window(
        TEMPLATE, earlier, ChatMessage("user", "merci"), generation, start_id=None, question_id=4
    )
    assert [(m.role, m.content) for m in window.messages] == [
        ("user", "Translate into French: bonjour"),
        ("assistant", "hello"),
        ("user", "Translate into French: merci"),
    ], "no system prompt for a template; the failed answer is left out"
    assert window.messages[0].images == (b"jpeg1",)
    assert holds_images(window)
    helpful = conversation_window(
        HELPFUL, earlier[1:], ChatMessage("user", "hi"), generation, start_id=None, question_id=4
    )
    assert helpful.messages[0] == ChatMessage("system", "You are helpful.")
    assert not holds_images(helpful)
