"""The builder's quick path (verbs/_quick.py) against the wire validator it stands in front of.

The quick path may only say "unsure": whenever it answers, the wire validator must answer the
same dict, key for key in the same order, written to the same bytes. These tests try every
field it checks with a bank of values of every kind (and of kinds that only look right), in
pairs and in both orders, and random sets of fields; and check that the verbs an app builds
most do not reach the wire validator at all.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict, Field, ValidationError

from jambonz_webhooks import HookContext, WebhookResponse
from jambonz_webhooks.hooks import HookObject
from jambonz_webhooks.response import _VALIDATORS, encode_verbs
from jambonz_webhooks.verbs import VERB_MODELS, SayPrompt, Verb
from jambonz_webhooks.verbs._quick import MAX_SHAPES, Unsure
from jambonz_webhooks.verbs._wire import VerbValidator
from jambonz_webhooks.verbs.components import Number


async def menu() -> None:
    """A routed handler."""


class Text(str):
    """A str subclass: pydantic's str validator gives back a plain str."""


class Whole(int):
    """An int subclass."""


CONTEXT = HookContext("/ivr", {menu: "/menu"})

# Values of every kind a field can be given, and some that only look like the right kind.
BANK: list[Any] = [
    None,
    True,
    False,
    0,
    7,
    -3,
    2.5,
    float("nan"),
    float("inf"),
    "",
    "hello",
    "digits",
    "speech",
    "/menu",
    "https://example.com/hook",
    "10",
    Text("hello"),
    Whole(3),
    [],
    ["hello"],
    ["digits", "speech"],
    ["digits", 1],
    [Text("digits")],
    ("digits",),
    {},
    {"text": "hi"},
    {"text": "hi", "verb": "say"},
    {"url": "/menu", "method": "get"},
    {"url": "/menu", "username": "u"},
    {"a": 1, "b": [1, 2]},
    {"a": float("nan")},  # free-form values: no NaN or infinity at any depth
    {"deep": [{"x": float("-inf")}]},
    [1, float("inf")],
    {1: "a"},
    OrderedDict(text="hi"),
    menu,
    HookObject(url="/menu"),
    SayPrompt(text="hi"),
    b"bytes",
    object(),
]


def validators() -> list[tuple[str, VerbValidator]]:
    # Validators of their own: the shapes tried here do not fill the builder's.
    found = []
    for name, model in VERB_MODELS.items():
        validator = VerbValidator(model)
        validator.prepare()
        if validator.mirrored:
            found.append((name, validator))
    return found


MIRRORED = validators()
OWN = dict(MIRRORED)


def checked_names(validator: VerbValidator) -> list[str]:
    """The names (Python and JSON) of the fields the quick path checks."""
    validator.prepare()
    model = validator.quick.__self__  # type: ignore[attr-defined]  # the bound method of its _Model
    return sorted(name for name, field in model.fields.items() if field.kind is not None)


def wire_answer(validator: VerbValidator, fields: dict[str, Any]) -> Any:
    try:
        return validator.wire(fields)
    except ValidationError:
        return None


def assert_agrees(validator: VerbValidator, fields: dict[str, Any]) -> bool:
    """Check the quick path against the wire validator on ``fields``; True if it was sure."""
    try:
        quick = validator.quick(fields)
    except Unsure:
        return False
    wire = wire_answer(validator, fields)
    assert isinstance(wire, dict), f"quick took {fields!r}, the wire validator does not"
    assert list(quick) == list(wire)
    assert repr(quick) == repr(wire)
    assert encode_verbs([quick], CONTEXT) == encode_verbs([wire], CONTEXT)
    return True


def test_the_quick_path_covers_the_common_verbs() -> None:
    names = {name for name, _ in MIRRORED}
    assert {"say", "play", "gather", "dial", "hangup", "pause", "redirect", "tag"} <= names
    gather = checked_names(OWN["gather"])
    common = {"input", "num_digits", "numDigits", "timeout", "action_hook", "actionHook", "say", "bargein"}
    assert common <= set(gather)


@pytest.mark.parametrize(("verb", "validator"), MIRRORED, ids=[name for name, _ in MIRRORED])
def test_every_value_of_every_checked_field_agrees(verb: str, validator: VerbValidator) -> None:
    sure = 0
    for name in checked_names(validator):
        for value in BANK:
            sure += assert_agrees(validator, {name: value})
    # Not vacuous: a verb with checked fields and nothing required takes some of the bank.
    assert sure > 0 or not checked_names(validator) or wire_answer(validator, {}) is None
    assert assert_agrees(validator, {}) or wire_answer(validator, {}) is None


@pytest.mark.parametrize("verb", ["say", "play", "gather", "redirect"])
def test_pairs_of_fields_agree_in_either_order(verb: str) -> None:
    validator = OWN[verb]
    names = checked_names(validator)
    values = ["hello", 5, True, ["digits"], {"text": "hi"}, "/menu", None]
    sure = 0
    for first, second in itertools.combinations(names, 2):
        for one, two in itertools.product(values, repeat=2):
            sure += assert_agrees(validator, {first: one, second: two})
            sure += assert_agrees(validator, {second: two, first: one})
    assert sure > 20


@pytest.mark.slow
@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.data())
def test_random_sets_of_fields_agree(data: st.DataObject) -> None:
    _, validator = data.draw(st.sampled_from(MIRRORED))
    names = [*checked_names(validator), "notAField"]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=6))
    fields = {name: data.draw(st.sampled_from(BANK)) for name in chosen}
    assert_agrees(validator, fields)


def test_the_example_answer_never_reaches_the_wire_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("say", "gather", "hangup", "dial"):
        validator = _VALIDATORS[name]
        validator.prepare()
        monkeypatch.setattr(validator, "wire", None)  # calling it would fail
        # Shapes other tests built (hypothesis tries many) may have filled the builder's room.
        validator.builds.clear()
    greeting = (
        WebhookResponse()
        .say(text="Hello, and thank you for calling Acme.")
        .gather(
            input=["digits", "speech"],
            num_digits=1,
            timeout=10,
            action_hook=menu,
            say={"text": "Press 1 for sales or 2 for support"},
        )
        .say(text="We did not receive any input.")
        .hangup()
    )
    assert greeting.to_json(CONTEXT) == (
        b'[{"verb":"say","text":"Hello, and thank you for calling Acme."},'
        b'{"verb":"gather","actionHook":"/ivr/menu","input":["digits","speech"],"numDigits":1,"timeout":10,'
        b'"say":{"text":"Press 1 for sales or 2 for support"}},'
        b'{"verb":"say","text":"We did not receive any input."},{"verb":"hangup"}]'
    )
    # dial's target is a list of components with rules of their own: the wire form takes it.
    monkeypatch.undo()
    assert WebhookResponse().dial(
        target=[{"type": "phone", "number": "+15551230001"}], action_hook=menu
    ).to_json(CONTEXT) == (
        b'[{"verb":"dial","target":[{"type":"phone","number":"+15551230001"}],"actionHook":"/ivr/menu"}]'
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"text": None},  # None is the model's to leave out
        {"text": Text("hi")},  # a subclass
        {"text": "hi", "notAField": 1},  # unknown
        {"text": "hi", "disable_tts_cache": True, "disableTtsCache": True},  # one field, both names
        {"loop": 2},  # a field the quick path does not check (Number | str)
    ],
)
def test_what_the_quick_path_is_unsure_of(fields: dict[str, Any]) -> None:
    with pytest.raises(Unsure):
        OWN["say"].quick(fields)


def test_a_nested_component_it_cannot_vouch_for_leaves_the_whole_verb_to_the_wire_form() -> None:
    gather = OWN["gather"]
    for say in ({"text": "hi", "verb": "say"}, SayPrompt(text="hi"), OrderedDict(text="hi"), {"text": 3}):
        with pytest.raises(Unsure):
            gather.quick({"say": say})
    # ...and the builder still answers it, as before.
    built = WebhookResponse().gather(say={"text": "hi", "verb": "say"})
    assert built.to_json() == b'[{"verb":"gather","say":{"text":"hi"}}]'


def test_defaults_the_wire_form_writes_are_written_in_their_place() -> None:
    validator = OWN["openai_s2s"]
    validator.prepare()
    fields = {"llm_options": {"model": "gpt"}}
    assert assert_agrees(validator, fields)
    assert list(validator.quick(fields).items()) == [
        ("verb", "openai_s2s"),
        ("vendor", "openai"),
        ("llmOptions", {"model": "gpt"}),
    ]


def test_a_required_field_left_out_is_the_wire_validators_to_name() -> None:
    tag = OWN["tag"]
    with pytest.raises(Unsure):
        tag.quick({})
    with pytest.raises(ValidationError, match="data"):
        WebhookResponse().tag({})


def test_plans_are_kept_for_a_bounded_number_of_shapes() -> None:
    validator = VerbValidator(VERB_MODELS["gather"])
    validator.prepare()
    builds = validator.builds
    names = checked_names(validator)
    shapes = list(itertools.permutations(names, 2))[: MAX_SHAPES * 2]
    for shape in shapes:
        assert_agrees(validator, dict.fromkeys(shape, True))
        with pytest.raises(Unsure):
            validator.quick({"notAField": 1, **dict.fromkeys(shape, True)})
    assert len(builds) == MAX_SHAPES
    # Past the bound a new shape is the wire validator's, which answers the same.
    fields = {"bargein": True, "timeout": 5, "dtmf_bargein": False}  # three names: no pair's shape
    with pytest.raises(Unsure):
        validator.quick(fields)
    assert validator.wire(fields) == {"verb": "gather", "timeout": 5, "dtmfBargein": False, "bargein": True}
    # Names no field has are never kept.
    assert not any("notAField" in shape for shape in builds)


def test_a_model_whose_names_collide_has_no_quick_path_and_still_validates() -> None:
    class Odd(Verb):
        verb_name: ClassVar[str] = "odd"
        schema_id: ClassVar[str] = "verbs/odd"
        say_it: str | None = None
        sayIt: str | None = Field(default=None, alias="sayItToo")  # the Python name of the other field

    validator = VerbValidator(Odd)
    validator.prepare()
    with pytest.raises(Unsure):
        validator.quick({"say_it": "hi"})
    assert validator.validate({"say_it": "hi"}) == {"sayIt": "hi"}


def test_a_model_whose_settings_change_values_has_no_quick_path() -> None:
    class Stripped(Verb):
        model_config = ConfigDict(str_strip_whitespace=True)
        verb_name: ClassVar[str] = "stripped"
        schema_id: ClassVar[str] = "verbs/stripped"
        text: str | None = None

    validator = VerbValidator(Stripped)
    validator.prepare()
    with pytest.raises(Unsure):
        validator.quick({"text": "  hi  "})
    assert validator.validate({"text": "  hi  "}) == {"text": "hi"}


def test_a_model_refusing_nan_refuses_it_on_the_quick_path_too() -> None:
    class Finite(Verb):
        model_config = ConfigDict(allow_inf_nan=False)
        verb_name: ClassVar[str] = "finite"
        schema_id: ClassVar[str] = "verbs/finite"
        length: Number | None = None

    validator = VerbValidator(Finite)
    validator.prepare()
    assert validator.quick({"length": 1.5}) == {"length": 1.5}
    assert validator.quick({"length": 2}) == {"length": 2}
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(Unsure):
            validator.quick({"length": value})
        with pytest.raises(ValidationError):
            validator.validate({"length": value})
