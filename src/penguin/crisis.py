"""Crisis: the lexical floor of the router, the resources, and a crisis answer that is safe to
send even when the model behind the agent is a 135M toy.

The router (router.py) decides with a sentence-embedding classifier trained on authored
messages; these patterns are its high-precision floor: phrases that mean danger whatever
the classifier thinks ("kill myself", "I took the whole bottle"). They look for first-person
intent or an act in progress, never for topics ("how do I support a suicidal friend" is not a
crisis message), and they fire on none of the benign and hard-negative messages of the training,
independent and boundary sets, and on two known ones of the sets written blind to them (tested).
The plainest of them are also written in Spanish, French, Portuguese, German and Italian, which
the classifier cannot read; on messages written blind to them they catch few crises (the router's
card says how few), so they are a floor, not a reader of those languages.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Literal

Level = Literal["imminent", "passive"]

_ME = r"(?:^\s*|\b(?:i|i've|ive|i have|i'm|im|i am|just)\s+)(?:just\s+|been\s+)?"
"""A first-person subject, or none at the start of the message ("took all my pills on purpose")."""
_PATTERNS: dict[str, tuple[str, ...]] = {
    "suicide": (
        r"\b(i|i'm|im|i am)\s+(going|gonna|about|ready|planning|have decided|decided)\s+(to\s+)?"
        r"(kill myself|end (it|my life|things)|die\b(?!\s+(of|from|laughing|for|if|when|waiting))|take my (own )?life|"
        r"commit suicide)",
        r"\b(kill myself|kms|end my life|take my own life|better off dead|unalive myself)\b",
        r"\b(tonight|today|now)\b.{0,40}\b(jump|hang myself|end it)\b",
        r"\b(this is|here is|writing) my (goodbye|last) (message|note|letter)\b",
        r"\bwhere to find my body\b(?=\s*([.,;!?]|$|(and|after|when|so|before)\b))",
        r"\bif i (sit|stay|sleep|lie)\b.{0,40}\bgarage\b.{0,40}\b(car|engine) running\b",
    ),
    "overdose": (
        r"\b(i|i've|ive|i have|just)\s+(just\s+)?(took|taken|swallowed|overdosed)\b.{0,60}"
        r"\b(pills|tablets|bottle|overdose|too many|whole|all (of )?my)\b",
        r"\b(i|i've|i have)\s+just\s+overdosed\b",
        r"\boverdosed\b.{0,20}\b(tonight|today|an hour ago|minutes ago|just now)\b",
        r"\bhow many\b.{0,40}\b(pills|tablets|of my)\b.{0,50}\b(not wake up|never wake up|to die|kill me|be enough)\b",
        _ME + r"(od'?d|overdosed|overdosing)\b[^.?!]{0,30}\bon purpose\b",
        # an amount taken on purpose: "I took my pills on purpose before bed" is not one
        _ME + r"(took|taken|taking|swallowed|injected|injecting|drank)\b[^.?!]{0,40}"
        r"\b(all|whole|rest|every|bunch|too many|handful|extra|double|\d{2,})\b[^.?!]{0,40}"
        r"\b(pills?|tablets?|meds|medication|insulin|doses?|paracetamol|tylenol|acetaminophen|ibuprofen|advil|"
        r"aspirin|bleach|antifreeze|poison)\b[^.?!]{0,40}\bon purpose\b",
        r"\b(i've been|ive been|i'm|im|i am|been)\s+(saving|stockpiling|hoarding)\b[^.?!]{0,20}\b(pills|meds|tablets)\b"
        r".{0,60}\b(is \d+ enough|enough to|to (die|end it))\b",
    ),
    "self_harm_now": (
        r"\b(i'm|im|i am)\s+(cutting|hurting|burning) myself\b",
        r"\b(bleeding|blood)\b.{0,40}\b(won't|will not|can't) stop\b",
        r"\bcut (myself )?deeper\b",
        r"\b(i've|ive|i have|i'm|im|i am|i keep)\s+(been\s+)?self.?harming\b"
        r"(?!\s+(free|less|since|thoughts|urges|for)\b)",
        r"\b(i keep|i've been|ive been|i have been)\s+(hurting|cutting|burning|hitting) myself\b"
        r"(?!\s+(when|while|by|at|on|with|in|shaving|cooking)\b)",
        r"(^\s*|\b(i'm|im|i am|doing|did|just)\s+)(sh|self.?harming)\s+(rn|right now)\b",
        r"\b(i|just)\s+(hit|cut|burned|burnt|punched|hurt)\s+my\s+(arms?|wrists?|legs?|thighs?|head|skin|stomach)\b"
        r"[^.?!]{0,40}\bon purpose\b",
        r"\b(biting|hitting|burning|scratching|punching)\s+(myself|my (arms?|wrists?|legs?|thighs?|skin))\b.{0,30}"
        r"\b(until|till|til)\s+(it|they|i)\s+(bleeds?|bled|bruises?)\b",
    ),
    "violence": (
        r"\b(i|i'm|im|i am)\s+(going|gonna|about|planning|want)\s+to\s+(kill|shoot|stab|hurt|attack)\s+"
        r"(him|her|them|my|someone|people|everyone)\b",
        r"\b(he|she|they|someone)\s+(is|are|has|have)\s+(a gun|a knife|threatening to kill)\b",
        r"\b(he|she|they)\s+(says?|said|threatened|swears?)\b.{0,30}\b(will|going to|gonna|'ll)\s+(kill|hurt)\s+me\b",
    ),
    "passive": (
        r"\b(wish|want) (i could|to) (go to )?sleep and (never|not) wake up\b",
        r"\b(everyone|they|my family) would be better off without me\b",
        r"\bdon'?t want to (be alive|exist|live) any ?more\b",
        r"\bi (just )?hope i (just )?(don'?t|do not|never) wake up\b"
        r"(?!\s+(late|early|with|this|in|at|before|too|to|hungover|sick)\b)",
        r"\bi hate that i (woke|wake) up\b(?!\s+(so|at|early|late|every|before|with|for|to|this early)\b)",
        r"\bi (fantasi[sz]e|daydream) about (dying|being dead|not waking up)\b",
        r"\bi (think|thought) about\b.{0,20}\b(stepping|jumping|throwing myself) (in front of|under) (a|the) "
        r"(bus|train|car|truck|tram)\b",
    ),
}
_DRUGS = (r"(pastillas?|p[ií]ldoras?|comprimidos?|comprim[eé]s|cachets|pilules|m[eé]dicaments|rem[eé]dios|pillole|"
          r"compresse|pastiglie|tachipirine|tabletten|pillen|paracetamol|acetaminof[eé]n|ibuprofeno?|aspirina?|"
          r"doliprane|dafalgan|tachipirina|insulina?|diazepam|clonazepam|rivotril|valium|xanax|tramadol|"
          r"somn[ií]feros|somnif[eè]res|schlaftabletten|sonniferi)")
_ALL = (r"(todas|todos|toda|todo|entera|entero|enteras|tous|toutes|toute|tout|tutte|tutti|tutta|tutto|inteira|"
        r"inteiro|alle|ganze|ganzen|la bo[iî]te|la caja|a caixa|a cartela|la scatola|\d{2,})")
_NOT_AN_OBJECT = r"(?!\s+(a|de|di|da|en|in|con|com|avec|por|dal|dalle|vor)\b|\s+\w+(ando|iendo)\b)"
"""Not followed by what makes it hyperbole: "me mato estudiando", "mourir de rire", "mi ammazzo di lavoro"."""
_PATTERNS_ELSEWHERE: dict[str, tuple[str, ...]] = {
    # The classifier reads English only (router.py sends a query read as another language to the
    # agent, never direct); these are the plainest first-person phrases in Spanish, French,
    # Portuguese, German and Italian. Hyperbole is common in all five ("me quiero morir de
    # vergüenza", "mi jefe va a matarme"), so a bare "die" or "kill me" never counts: intent to
    # kill oneself, an amount of a drug "to die", all of one's pills taken on purpose, a threat
    # reported, a wish not to live (not "to live in Madrid").
    "suicide": (
        r"\b(quiero|voy a|pienso|necesito|decid[ií]) (matarme|suicidarme|quitarme la vida)\b" + _NOT_AN_OBJECT,
        r"\b(suicidarme|quitarme la vida|me voy a suicidar|me suicido)\b",
        r"\b(esta noche|hoy|mañana|ya) me mato\b" + _NOT_AN_OBJECT,
        r"\bje (veux|vais|voudrais) (me tuer|me suicider|en finir\b(?!\s+avec))|\bj'ai envie de (me tuer|mourir)\b"
        r"(?!\s+de)|\bme suicider\b|\bmettre fin [àa] (mes jours|ma vie)\b(?!\s+de)",
        r"\b(quero|vou) me matar\b" + _NOT_AN_OBJECT + r"|\bme suicidar\b|\b(tirar|acabar com) (a )?minha (pr[oó]pria )?"
        r"vida\b(?!\s+de)",
        r"\bich (will|werde|m[öo]chte|moechte) mich (heute( nacht)? )?umbringen\b|\bich (bringe|bring) mich "
        r"(heute( nacht)? )?um\b|\bmir das leben (zu )?nehmen\b|\bich (will|werde) selbstmord begehen\b",
        r"\b(voglio|vado a|sto per|penso di|sto pensando di) (uccidermi|ammazzarmi|suicidarmi|togliermi la vita)\b"
        + _NOT_AN_OBJECT + r"|\bvoglio farla finita\b(?!\s+con)",
        r"\b(suicidarmi|togliermi la vita)\b|\b(stasera|oggi|domani|ormai) mi (uccido|ammazzo)\b" + _NOT_AN_OBJECT,
    ),
    "overdose": (
        r"\b(cu[aá]nt[oa]s?|combien|quant[oa]s?|quant[ei]|wie viele?)\b[^.?!]{0,60}" + _DRUGS + r"[^.?!]{0,60}"
        r"\b(para (morir|matarme|morrer|me matar)|pour (mourir|me tuer)|um zu sterben|per (morire|uccidermi))\b"
        + _NOT_AN_OBJECT,
        r"\b(tom[eé]|me tom[eé]|trag[uué]|me he tomado|j'ai pris|j'ai aval[eé]|tomei|engoli|ho preso|ho ingoiato|"
        r"mi sono pres[oa]|habe|hab)\b[^.?!]{0,30}" + _ALL + r"[^.?!]{0,40}" + _DRUGS + r"[^.?!]{0,40}"
        r"\b(a prop[oó]sito|adrede|expr[eè]s|volontairement|de prop[oó]sito|propositalmente|apposta|di proposito|"
        r"absichtlich|mit absicht)\b",
    ),
    "self_harm_now": (
        r"\bich ritze mich\b|\bich schneide mich (absichtlich|wieder|gerade)\b|"
        r"\b(habe|hab) mich (gerade |wieder |heute )*geritzt\b",
    ),
    "violence": (
        r"\b(dijo|dice|amenaz[oó]|jur[oó])\b.{0,20}\bque me (va a |iba a )?(matar|mata)\b(?![^.?!]{0,30}\b(si|de risa)\b)",
        r"\b(il|elle) (a dit|dit|menace|m'a menac[eé]e?)\b.{0,30}\b(va me tuer|de me tuer)\b(?![^.?!]{0,30}\b(si|de rire)\b)",
        r"\b(disse|falou|amea[cç]ou|jurou)\b.{0,20}\bque (vai|ia) me matar\b(?![^.?!]{0,30}\b(se|de rir)\b)",
        r"\b(er|sie) (hat gesagt|sagt|droht|drohte)\b.{0,30}\b(bringt mich um|mich umzubringen|mich umbringen)\b"
        r"(?![^.?!]{0,30}\b(wenn|falls)\b)",
        r"\b(ha detto|dice|minaccia|ha minacciato)\b.{0,30}\b(che mi (ammazza|uccide)|di (uccidermi|ammazzarmi))\b"
        r"(?![^.?!]{0,30}\b(se|dalle risate)\b)",
    ),
    "passive": (
        r"\b(ya )?no quiero (seguir )?vivir\b(?!\s+(en|con|aqu[ií]|as[ií]|sol[oa]|lejos|cerca|de|ah[ií]|all[ií])\b)"
        r"|\b(quisiera|quiero|desear[ií]a|ojal[aá]) no (despertar(me)?|existir)\b(?!\s+(tarde|temprano|a las)\b)",
        r"\bje (ne )?veux plus vivre\b(?!\s+(à|a|en|avec|ici|seule?|comme|dans|chez)\b)"
        r"|\bne plus (me r[eé]veiller|exister)\b",
        r"\bn[aã]o quero mais viver\b(?!\s+(em|com|aqui|assim|sozinh[oa]|longe|no|na|nesta|neste)\b)"
        r"|\bn[aã]o (acordar|existir) mais\b",
        r"\bich will nicht mehr leben\b(?!\s+(in|mit|bei|hier|so|allein)\b)"
        r"|\b(w[üu]nsch\w*|will|m[öo]chte)\b.{0,40}\bnicht mehr (aufwachen|aufzuwachen)\b",
        r"\bnon voglio pi[uù] vivere\b(?!\s+(a|in|con|qui|cos[iì]|da|sol[oa])\b)"
        r"|\bnon (svegliarmi|risvegliarmi) pi[uù]\b",
    ),
}
_COMPILED = {kind: [re.compile(p, re.IGNORECASE) for p in (*_PATTERNS.get(kind, ()), *_PATTERNS_ELSEWHERE.get(kind, ()))]
             for kind in {**_PATTERNS, **_PATTERNS_ELSEWHERE}}


def floor_digest() -> str:
    """What a router card records of the floor its rates were measured with (they include it)."""
    return hashlib.sha256(json.dumps([_PATTERNS, _PATTERNS_ELSEWHERE], sort_keys=True).encode()).hexdigest()


EMERGENCY = "If you are in immediate danger, call your local emergency number now (911 in the US and Canada, " \
            "112 in the EU, 999 in the UK, 000 in Australia)."
RESOURCES: dict[str, str] = {
    "suicide": "You can talk to someone right now, free and confidential: in the US call or text 988 (Suicide & "
               "Crisis Lifeline); in the UK and Ireland call Samaritans on 116 123; elsewhere, findahelpline.com "
               "lists crisis lines in your country.",
    "overdose": "If you have taken something, call emergency services or a poison control centre now, even if you "
                "feel fine (US Poison Help: 1-800-222-1222).",
    "danger": "If someone is threatening or hurting you, get to a safe place if you can and call emergency "
              "services. In the US the National Domestic Violence Hotline is 1-800-799-7233 (text START to 88788); "
              "in the UK, the Refuge helpline is 0808 2000 247.",
}
CRISIS_RESOURCES = "\n".join([EMERGENCY, RESOURCES["suicide"], RESOURCES["overdose"]])
"""Every resource line; the crisis answer picks the ones its kind needs."""


def crisis_signal(text: str) -> tuple[str, Level] | None:
    """The lexical floor: (kind, level) when a message says danger in so many words, else None."""
    # composed accents (a decomposed "é" would slip past every accented pattern) and one apostrophe
    normalized = unicodedata.normalize("NFC", text).replace("’", "'").replace("´", "'").replace("`", "'")
    for kind, patterns in _COMPILED.items():
        if any(p.search(normalized) for p in patterns):
            return ("suicide" if kind == "passive" else kind), ("passive" if kind == "passive" else "imminent")
    return None


def resources_for(kind: str | None) -> str:
    """The emergency line, then what fits the kind (danger from others, an overdose), then the
    suicide lines, which fit every crisis."""
    lines = [EMERGENCY]
    if kind in ("danger_from_others", "violence", "harm_to_others"):
        lines.append(RESOURCES["danger"])
    if kind == "overdose":
        lines.append(RESOURCES["overdose"])
    lines.append(RESOURCES["suicide"])
    return "\n".join(lines)


def _echo(message: str, limit: int = 18) -> str:
    """A short excerpt of the person's own words, to show they were heard."""
    words = re.sub(r"\s+", " ", message).strip().split(" ")
    excerpt = " ".join(words[:limit]).strip(" .,;:!?")
    return excerpt + (" …" if len(words) > limit else "")


def crisis_template(message: str, kind: str | None, level: Level) -> str:
    """A crisis answer written by us, in the person's words: resources first for imminent danger,
    then warmth and one concrete next step. Used as is with small models, which cannot be trusted
    to write this, and as the fallback when a model's crisis answer fails."""
    heard = f"You wrote: “{_echo(message)}”." if message.strip() else ""
    if level == "imminent":
        return "\n\n".join(filter(None, [
            resources_for(kind),
            f"{heard} I'm really glad you reached out, and I'm taking what you said seriously. You don't have to "
            "carry this alone, and you deserve help right now.",
            "If you can, put some distance between yourself and anything you could use to hurt yourself, and reach "
            "out to someone you trust who can be with you now. A crisis counsellor can talk with you tonight, "
            "whatever is going on.",
        ]))
    return "\n\n".join(filter(None, [
        f"{heard} It sounds like things feel really heavy right now, and I'm glad you said it out loud. Feeling "
        "this way is a sign of how much you've been carrying, not a sign that something is wrong with you.",
        "You deserve support with this. Talking to someone can help, even if nothing feels urgent: a friend, a "
        "doctor, or a counsellor on a free line.",
        resources_for(kind),
    ]))
