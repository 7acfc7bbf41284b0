"""The return date of an automatic reply: the first day the person is back.

Dates are found with their context in English, German, French, Spanish, Dutch, Italian and
Portuguese: "back on", "zurück am", "de retour le" name the return day itself; "until",
"bis", "jusqu'au" name the return day too (the usual reading of "out until Monday"),
unless marked inclusive ("bis einschließlich", "through", "t/m", "inclus"), when the
person is back the day after; a range "from 3 to 14 March" ends the day before return.
A date without a year that would lie before the message is in the next year. Numeric
dates are day-month or month-day by the message's language, then by plausibility.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "january jan januar janvier janv enero ene januari gennaio genn gen janeiro",
        "february feb februar février fevrier févr fevr febrero februari febbraio fevereiro fev",
        "march mar märz maerz marz mär mars marzo maart março marco",
        "april apr avril abril aprile abr",
        "may mai mayo mei maggio mag maio",
        "june jun juni juin junio giugno giu junho",
        "july jul juli juillet juil julio luglio lug julho",
        "august aug august août aout agosto ago augustus",
        "september sep sept septembre septiembre setiembre settembre set setembro",
        "october oct okt oktober octobre octubre ottobre ott outubro out",
        "november nov novembre noviembre novembro",
        "december dec dez dezember décembre decembre déc diciembre dic dicembre dezembro",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _number)

_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "monday mon montag lundi lunes maandag lunedì lunedi segunda-feira segunda",
        "tuesday tue tues dienstag mardi martes dinsdag martedì martedi terça-feira terça terca",
        "wednesday wed mittwoch mercredi miércoles miercoles woensdag mercoledì mercoledi "
        "quarta-feira quarta",
        "thursday thu thurs donnerstag jeudi jueves donderdag giovedì giovedi quinta-feira quinta",
        "friday fri freitag vendredi viernes vrijdag venerdì venerdi sexta-feira sexta",
        "saturday sat samstag samedi sábado sabado zaterdag sabato",
        "sunday sun sonntag dimanche domingo zondag domenica",
    ]
):
    for _name in _names.split():
        _WEEKDAYS.setdefault(_name, _number)

_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted((re.escape(w) for w in _WEEKDAYS), key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th|er|e|º|ª|\.)?"

_DASH = r"\s*(?:-|–|—|to|until|till|bis|au|al|tot|a|ao)\s*"
_DATE = re.compile(
    rf"(?P<mr>\b(?P<mrmon>{_MONTH_RE})\b\.?\s+(?P<mr1>\d{{1,2}}){_ORD}{_DASH}"
    rf"(?P<mr2>\d{{1,2}}){_ORD}(?!\d)(?:,?\s*(?P<mry>\d{{4}}))?)"
    rf"|(?P<dr>\b(?P<dr1>\d{{1,2}}){_ORD}{_DASH}(?P<dr2>\d{{1,2}}){_ORD}\s*(?:of\s+|de\s+)?"
    rf"(?P<drmon>{_MONTH_RE})\b\.?(?:,?\s*(?:de\s+)?(?P<dry>\d{{4}}))?)"
    rf"|(?P<iso>\b(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})\b)"
    rf"|(?P<num>\b(?P<n1>\d{{1,2}})[./](?P<n2>\d{{1,2}})(?:[./](?P<n3>\d{{2,4}}))?\b\.?)"
    rf"|(?P<dm>\b(?P<dd>\d{{1,2}}){_ORD}\s*(?:of\s+|de\s+)?(?P<dmon>{_MONTH_RE})\b\.?"
    rf"(?:,?\s*(?:de\s+)?(?P<dy>\d{{4}}))?)"
    rf"|(?P<md>\b(?P<mmon>{_MONTH_RE})\b\.?\s+(?P<md_d>\d{{1,2}}){_ORD}(?!\d)"
    rf"(?:,?\s*(?P<my>\d{{4}}))?)"
    rf"|(?P<wd>\b(?P<wname>{_WEEKDAY_RE})\b)"
    rf"|(?P<ord>\bthe\s+(?P<oday>\d{{1,2}})(?:st|nd|rd|th)\b)",
    re.IGNORECASE,
)
_RETURN = re.compile(
    r"(?:back|return|returning|returns|return to the office|retour|de retour|revenu|"
    r"rentrerai|zurück|zurueck|wieder (?:da|im büro|im buero|erreichbar|verfügbar|"
    r"verfuegbar|zurück|im office)|ab dem|ab|regreso|regresaré|regresare|de vuelta|"
    r"volveré|volvere|vuelvo|reincorporo|terug|weer (?:aanwezig|op kantoor|beschikbaar)|"
    r"vanaf|di ritorno|rientro|rientrerò|rientrero|torno|tornerò|tornero|de volta|"
    r"retorno|regresso|volto|available again|in the office|reachable again|à partir du|"
    r"a partir del|a partir de|a partire da|dal)\W+(?:\w+\W+){0,5}$",
    re.IGNORECASE,
)
_UNTIL = re.compile(
    r"(?:until|till|til|through|thru|to|bis|jusqu'au|jusqu’au|jusqu'à|jusqu’à|"
    r"jusqu au|hasta|tot|fino al|fino a|fino|até|ate)\W+(?:\w+\W+){0,3}$",
    re.IGNORECASE,
)
_INCLUSIVE_BEFORE = re.compile(
    r"(?:through|thru|up to and including|until and including|to and including|"
    r"bis einschließlich|bis einschliesslich|bis inklusive|bis inkl|einschließlich|"
    r"einschliesslich|tot en met|t/m|t\.m\.|hasta el .{0,3}inclusive|fino al .{0,3}compreso|"
    r"até .{0,3}inclusive)\W+(?:\w+\W+){0,3}$",
    re.IGNORECASE,
)
_INCLUSIVE_AFTER = re.compile(
    r"^\W{0,3}(?:\(?inclusive\)?|\(?inclus(?:ive)?\)?|\(?included\)?|\(?inklusive\)?|"
    r"\(?einschließlich\)?|\(?compreso\)?|\(?incluido\)?|\(?incluso\)?|\(?inclusief\)?)",
    re.IGNORECASE,
)
# "am 17.03. wieder da", "le 3 mars de retour": the return word after the date.
_RETURN_AFTER = re.compile(
    r"^\W{0,3}(?:\w+\s+){0,2}(?:wieder|zurück|zurueck|de retour|terug|di ritorno|de volta|"
    r"de vuelta|back)\b",
    re.IGNORECASE,
)
_RANGE_LINK = re.compile(
    r"^\s*(?:-|–|—|to|until|till|through|bis|au|al|a|tot|até|ao|y|and|und|et|e|en)\s*$",
    re.IGNORECASE,
)
_TOMORROW = re.compile(r"\b(?:back|return\w*|zurück|de retour|terug)\s+tomorrow\b", re.I)

_GERMANIC_OR_ROMANCE = re.compile(
    r"\b(?:ich|bin|und|der|die|das|nicht|je|suis|le|la|les|et|yo|estoy|el|los|ik|ben|het|"
    r"een|sono|il|gli|della|estou|não|nao|com|para|vom|bis|jusqu|hasta|tot)\b",
    re.IGNORECASE,
)
_ENGLISH = re.compile(r"\b(?:i|am|the|and|will|be|until|back|office|out|of|on)\b", re.I)


_MAX_CHARS = 2500


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    day: date | None
    weekday: int | None
    range_end: bool = False


def _is_english(text: str) -> bool:
    return len(_ENGLISH.findall(text)) >= len(_GERMANIC_OR_ROMANCE.findall(text))


def _with_year(month: int, day: int, year: int | None, ref: date | None) -> date | None:
    try:
        if year is not None:
            if year < 100:
                year += 2000
            return date(year, month, day)
        if ref is None:
            return None
        candidate = date(ref.year, month, day)
        if candidate < ref - timedelta(days=1):
            candidate = date(ref.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def _numeric(n1: int, n2: int, year: int | None, english: bool, ref: date | None) -> date | None:
    orders = [(n1, n2), (n2, n1)] if english else [(n2, n1), (n1, n2)]  # (month, day)
    options = [d for m, dd in orders if (d := _with_year(m, dd, year, ref)) is not None]
    if not options:
        return None
    if ref is not None:
        for option in options:
            if timedelta(days=-2) <= option - ref <= timedelta(days=200):
                return option
    return options[0]


def _mentions(text: str, ref: date | None) -> list[_Mention]:
    english = _is_english(text)
    found: list[_Mention] = []
    for match in _DATE.finditer(text):
        day: date | None = None
        weekday: int | None = None
        range_end = False
        try:
            if match.group("mr"):
                year = int(match["mry"]) if match["mry"] else None
                day = _with_year(_MONTHS[match["mrmon"].lower()], int(match["mr2"]), year, ref)
                range_end = True
            elif match.group("dr"):
                year = int(match["dry"]) if match["dry"] else None
                day = _with_year(_MONTHS[match["drmon"].lower()], int(match["dr2"]), year, ref)
                range_end = True
            elif match.group("iso"):
                day = date(int(match["iy"]), int(match["im"]), int(match["id"]))
            elif match.group("num"):
                year = int(match["n3"]) if match["n3"] else None
                day = _numeric(int(match["n1"]), int(match["n2"]), year, english, ref)
            elif match.group("dm"):
                month = _MONTHS[match["dmon"].lower()]
                year = int(match["dy"]) if match["dy"] else None
                day = _with_year(month, int(match["dd"]), year, ref)
            elif match.group("md"):
                month = _MONTHS[match["mmon"].lower()]
                year = int(match["my"]) if match["my"] else None
                day = _with_year(month, int(match["md_d"]), year, ref)
            elif match.group("wd"):
                weekday = _WEEKDAYS[match["wname"].lower()]
            elif match.group("ord") and ref is not None:
                day = _next_day_of_month(int(match["oday"]), ref)
        except (ValueError, KeyError):
            continue
        if day is None and weekday is None:
            continue
        found.append(_Mention(match.start(), match.end(), day, weekday, range_end))
    # A weekday right before a date ("Monday, March 17") belongs to that date.
    merged: list[_Mention] = []
    for mention in found:
        if (
            merged
            and merged[-1].weekday is not None
            and mention.day is not None
            and mention.start - merged[-1].end <= 3
        ):
            merged[-1] = _Mention(merged[-1].start, mention.end, mention.day, None)
            continue
        merged.append(mention)
    return merged


def _next_day_of_month(day: int, ref: date) -> date | None:
    """ "The 15th": that day of this month, or of the next month once it has passed."""
    year, month = ref.year, ref.month
    for _ in range(3):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= ref:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _resolve(mention: _Mention, ref: date | None) -> date | None:
    if mention.day is not None:
        return mention.day
    if mention.weekday is None or ref is None:
        return None
    ahead = (mention.weekday - ref.weekday()) % 7 or 7
    return ref + timedelta(days=ahead)


def return_date(text: str, ref: date | None) -> date | None:
    """The first day back stated in an automatic reply, or None."""
    text = " ".join(text[:_MAX_CHARS].split())
    if ref is not None and _TOMORROW.search(text):
        return ref + timedelta(days=1)
    mentions = _mentions(text, ref)
    best: tuple[int, date] | None = None
    for index, mention in enumerate(mentions):
        resolved = _resolve(mention, ref)
        if resolved is None:
            continue
        before = text[max(0, mention.start - 60) : mention.start]
        after = text[mention.end : mention.end + 20]
        previous = mentions[index - 1] if index else None
        in_range = previous is not None and _RANGE_LINK.match(text[previous.end : mention.start])
        inclusive = mention.range_end or bool(
            _INCLUSIVE_BEFORE.search(before) or _INCLUSIVE_AFTER.match(after)
        )
        if (_RETURN.search(before) or _RETURN_AFTER.match(after)) and not inclusive:
            candidate = (0, resolved)
        elif inclusive or in_range:
            candidate = (1, resolved + timedelta(days=1))
        elif _UNTIL.search(before):
            candidate = (2, resolved)
        else:
            continue
        if ref is not None and candidate[1] < ref:
            continue
        if best is None or candidate[0] < best[0]:
            best = candidate
    return best[1] if best else None
