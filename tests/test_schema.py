import pytest
from pydantic import ValidationError

from penguin.schema import ATTRIBUTES, Attribute, Context, Profile, Scenario, Variant

FULL = {
    "Age": "25-34", "Gender": "Female", "Marital Status": "Single", "Profession": "Teacher",
    "Economic Status": "Moderate", "Health Status": "Good", "Education Level": "Bachelor's",
    "Mental Health Status": "Anxiety", "Past Self-Harm History": "None", "Emotional State": "Anxiety",
}


def scenario(**over):
    data = dict(id="x1", domain="Health", subcategory="Mental", scenario="Panic Attack", source="synthetic",
                profile=FULL, query="How do I calm down fast?")
    data.update(over)
    return Scenario.model_validate(data)


def test_attribute_display_names_are_the_papers():
    assert [a.value for a in ATTRIBUTES] == [
        "Age", "Gender", "Marital Status", "Profession", "Economic Status", "Health Status",
        "Education Level", "Mental Health Status", "Past Self-Harm History", "Emotional State",
    ]


@pytest.mark.parametrize("text,attr", [
    ("self_harm", Attribute.SELF_HARM), ("Past Self-Harm History", Attribute.SELF_HARM),
    ("mental", Attribute.MENTAL), ("Emotional State", Attribute.EMOTION), ("emotion", Attribute.EMOTION),
    ("MARITAL STATUS", Attribute.MARITAL),
])
def test_attribute_parse(text, attr):
    assert Attribute.parse(text) is attr


def test_unknown_attribute_names_the_choices():
    with pytest.raises(ValueError, match="unknown attribute 'shoe size'.*self_harm"):
        Attribute.parse("shoe size")


def test_profile_round_trips_with_display_names():
    p = Profile.model_validate(FULL)
    assert p.dump() == FULL
    assert p.get(Attribute.MENTAL) == "Anxiety"
    assert Profile.model_validate_json(p.model_dump_json()) == p


def test_profile_rejects_unknown_field_and_names_it():
    with pytest.raises(ValidationError) as exc:
        Profile.model_validate({**FULL, "Shoe Size": "44"})
    assert "Shoe Size" in str(exc.value)


def test_restrict_keeps_only_given_attributes():
    p = Profile.model_validate(FULL).restrict([Attribute.AGE, Attribute.MENTAL])
    assert p.dump() == {"Age": "25-34", "Mental Health Status": "Anxiety"}


def test_category_strips_free_text_detail():
    p = Profile.model_validate({**FULL, "Emotional State": "Despair - feels nothing will change"})
    assert p.category(Attribute.EMOTION) == "Despair"


def test_scenario_validation_names_the_field():
    with pytest.raises(ValidationError) as exc:
        scenario(domain="Cooking")
    assert "domain" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        scenario(query="   ")
    assert "query" in str(exc.value)
    with pytest.raises(ValidationError):
        scenario(source="imagined")


def test_contexts():
    assert Context.for_variant(Variant.FREE).name == "free"
    assert Context.for_variant(Variant.RICH).name == "rich"
    c = Context.parse("emotion+mental")
    assert c.name == "mental+emotion"  # canonical order
    assert Context.parse(c.name) == c
    assert Context.parse("self_harm").attributes == {Attribute.SELF_HARM}
    with pytest.raises(ValueError):
        Context.parse("mental+nonsense")
