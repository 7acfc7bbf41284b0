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
        "january jan januar janvier janv enero ene januari gennaio genn gen janeiro "
        "stycznia styczeń styczen ledna leden",
        "february feb februar février fevrier févr fevr febrero februari febbraio fevereiro fev "
        "lutego luty února unora únor unor",
        "march mar märz maerz marz mär mars marzo maart março marco marts marca marzec "
        "března brezna březen brezen",
        "april apr avril abril aprile abr kwietnia kwiecień kwiecien dubna duben",
        "may mai mayo mei maggio mag maio maj maja května kvetna květen kveten",
        "june jun juni juin junio giugno giu junho czerwca czerwiec června cervna červen cerven",
        "july jul juli juillet juil julio luglio lug julho lipca lipiec července cervence "
        "červenec cervenec",
        "august aug august août aout agosto ago augustus augusti sierpnia sierpień sierpien "
        "srpna srpen",
        "september sep sept septembre septiembre setiembre settembre set setembro "
        "września wrzesnia wrzesień wrzesien září zari",
        "october oct okt oktober octobre octubre ottobre ott outubro out października "
        "pazdziernika październik pazdziernik října rijna říjen rijen",
        "november nov novembre noviembre novembro listopada listopad listopadu",
        "december dec dez dezember décembre decembre déc diciembre dic dicembre dezembro "
        "grudnia grudzień grudzien prosince prosinec",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _number)

_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "monday mon montag lundi lunes maandag lunedì lunedi segunda-feira segunda måndag "
        "mandag poniedziałek poniedzialek poniedziałku pondělí pondeli",
        "tuesday tue tues dienstag mardi martes dinsdag martedì martedi terça-feira terça terca "
        "tisdag tirsdag wtorek wtorku úterý utery",
        "wednesday wed mittwoch mercredi miércoles miercoles woensdag mercoledì mercoledi "
        "quarta-feira quarta onsdag środa sroda środy středa streda",
        "thursday thu thurs donnerstag jeudi jueves donderdag giovedì giovedi quinta-feira quinta "
        "torsdag czwartek czwartku čtvrtek ctvrtek",
        "friday fri freitag vendredi viernes vrijdag venerdì venerdi sexta-feira sexta fredag "
        "piątek piatek piątku pátek patek",
        "saturday sat samstag samedi sábado sabado zaterdag sabato lördag lørdag sobota",
        "sunday sun sonntag dimanche domingo zondag domenica söndag søndag niedziela neděle",
    ]
):
    for _name in _names.split():
        _WEEKDAYS.setdefault(_name, _number)

_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted((re.escape(w) for w in _WEEKDAYS), key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th|er|e|º|ª|\.)?"

_DASH = r"\s*(?:-|–|—|to|until|till|til|bis|au|al|tot|a|ao|do)\s*"
_DATE = re.compile(
    rf"(?P<mr>\b(?P<mrmon>{_MONTH_RE})\b\.?\s+(?P<mr1>\d{{1,2}}){_ORD}{_DASH}"
    rf"(?P<mr2>\d{{1,2}}){_ORD}(?!\d)(?:,?\s*(?P<mry>\d{{4}}))?)"
    rf"|(?P<dr>\b(?P<dr1>\d{{1,2}}){_ORD}{_DASH}(?P<dr2>\d{{1,2}}){_ORD}\s*(?:of\s+|de\s+)?"
    rf"(?P<drmon>{_MONTH_RE})\b\.?(?:,?\s*(?:de\s+)?(?P<dry>\d{{4}}))?)"
    rf"|(?P<iso>\b(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})\b)"
    rf"|(?P<dash>\b(?P<a1>\d{{1,2}})-(?P<a2>\d{{1,2}})-(?P<a3>\d{{4}})\b)"
    rf"|(?P<num>\b(?P<n1>\d{{1,2}})(?:[./]|\.\s)(?P<n2>\d{{1,2}})"
    rf"(?:(?:[./]|\.\s)(?P<n3>\d{{4}}|\d{{2}}))?\b\.?)"
    rf"|(?P<dm>\b(?P<dd>\d{{1,2}}){_ORD}\s*(?:of\s+|de\s+)?(?P<dmon>{_MONTH_RE})\b\.?"
    rf"(?:,?\s*(?:de\s+)?(?P<dy>\d{{4}}))?)"
    rf"|(?P<md>\b(?P<mmon>{_MONTH_RE})\b\.?\s+(?P<md_d>\d{{1,2}}){_ORD}(?!\d)"
    rf"(?:,?\s*(?P<my>\d{{4}}))?)"
    rf"|(?P<my_only>\b(?P<moname>{_MONTH_RE})\b\.?\s+(?P<moyear>20\d\d)\b)"
    rf"|(?P<week>\b(?:weeks?|vecka|veckorna|veckor|v\.|uge|uger|uke|uker|woche|kw|week)\s*"
    rf"(?P<w1>\d{{1,2}})(?:\s*(?:-|–|—|og|och|and|und|to|till|til)\s*(?P<w2>\d{{1,2}}))?\b)"
    rf"|(?P<dia>\b(?:dia|día)\s+(?P<diad>\d{{1,2}})\b(?!\s*(?:[./]\s?\d|de\s|d')))"
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
    r"a partir del|a partir de|a partire da|dal|retornando|retornarei|tillbaka|åter|"
    r"tilbage|tilbake|wracam|powrót|powrot|z powrotem|zpět|zpet|opět|opet|"
    r"re-?open(?:s|ing)?|open again|wieder geöffnet|wieder offen|réouverture|rouvre|"
    r"reapertura|reabrimos|riapertura|riapre|heropening|weer open)\W+(?:\w+\W+){0,5}$",
    re.IGNORECASE,
)
_UNTIL = re.compile(
    r"(?:until|till|til|through|thru|to|bis|jusqu'au|jusqu’au|jusqu'à|jusqu’à|"
    r"jusqu au|hasta|tot|fino al|fino a|fino|até|ate|frem til)\W+(?:\w+\W+){0,3}$",
    re.IGNORECASE,
)
# Polish and Czech "do" (until) only right before the date: in English it is a verb.
_UNTIL_DIRECT = re.compile(r"\bdo\s+(?:dnia\s+)?$", re.IGNORECASE)
_INCLUSIVE_BEFORE = re.compile(
    r"(?:through|thru|up to and including|until and including|to and including|"
    r"bis einschließlich|bis einschliesslich|bis inklusive|bis inkl|einschließlich|"
    r"einschliesslich|tot en met|t/m|t\.m\.|hasta el .{0,3}inclusive|fino al .{0,3}compreso|"
    r"até .{0,3}inclusive|till och med|til og med|t\.o\.m\.?)\W+(?:\w+\W+){0,3}$",
    re.IGNORECASE,
)
_INCLUSIVE_AFTER = re.compile(
    r"^\W{0,3}(?:\(?inclusive\)?|\(?inclus(?:ive)?\)?|\(?included\)?|\(?inklusive\)?|"
    r"\(?einschließlich\)?|\(?compreso\)?|\(?incluido\)?|\(?incluso\)?|\(?inclusief\)?|"
    r"\(?włącznie\)?|\(?wlacznie\)?|\(?včetně\)?|\(?vcetne\)?|\(?inklusive\)?|"
    r"ambos inclusive)",
    re.IGNORECASE,
)
# "am 17.03. wieder da", "le 3 mars de retour": the return word after the date.
_RETURN_AFTER = re.compile(
    r"^\W{0,3}(?:\w+\s+){0,2}(?:wieder|zurück|zurueck|de retour|terug|di ritorno|de volta|"
    r"de vuelta|back)\b",
    re.IGNORECASE,
)
_RANGE_LINK = re.compile(
    r"^\s*(?:-|–|—|to|until|till|til|through|bis|au|al|a|tot|até|ao|y|and|und|et|e|en|do|"
    r"och|og)\s*$",
    re.IGNORECASE,
)
_TOMORROW = re.compile(r"\b(?:back|return\w*|zurück|de retour|terug)\s+tomorrow\b", re.I)
_NEXT_WEEK = re.compile(
    r"\b(?:back|return\w*|zurück|de retour|terug|di ritorno|de vuelta|de volta|tillbaka|"
    r"tilbage|tilbake)\s+(?:in\s+the\s+office\s+)?(?:next\s+week|nächste\s+woche|"
    r"la\s+semaine\s+prochaine|volgende\s+week|la\s+prossima\s+settimana|"
    r"la\s+semana\s+que\s+viene|la\s+próxima\s+semana|na\s+próxima\s+semana|"
    r"nästa\s+vecka|næste\s+uge|neste\s+uke)\b",
    re.IGNORECASE,
)

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
            elif match.group("dash"):
                day = _numeric(int(match["a1"]), int(match["a2"]), int(match["a3"]), english, ref)
            elif match.group("num"):
                year = int(match["n3"]) if match["n3"] else None
                # "10. 7." and "10.7." (a dot after the month, or a space after the day's
                # dot) are written day first wherever they are written.
                written = match["num"]
                day_first = "/" not in written and (written.endswith(".") or ". " in written)
                day = _numeric(
                    int(match["n1"]), int(match["n2"]), year, english and not day_first, ref
                )
            elif match.group("dm"):
                month = _MONTHS[match["dmon"].lower()]
                year = int(match["dy"]) if match["dy"] else None
                day = _with_year(month, int(match["dd"]), year, ref)
            elif match.group("md"):
                month = _MONTHS[match["mmon"].lower()]
                year = int(match["my"]) if match["my"] else None
                day = _with_year(month, int(match["md_d"]), year, ref)
            elif match.group("my_only"):
                # "until September 2026": the earliest day it can mean.
                day = date(int(match["moyear"]), _MONTHS[match["moname"].lower()], 1)
            elif match.group("week") and ref is not None:
                returning = bool(_RETURN.search(text[max(0, match.start() - 40) : match.start()]))
                day, range_end = _iso_week(match, ref, returning)
            elif match.group("dia") and ref is not None:
                day = _next_day_of_month(int(match["diad"]), ref)
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
            and _WEEKDAY_GAP.match(text[merged[-1].end : mention.start])
        ):
            merged[-1] = _Mention(merged[-1].start, mention.end, mention.day, None)
            continue
        merged.append(mention)
    return merged


_WEEKDAY_GAP = re.compile(r"^[\s,.]{0,3}(?:(?:den|the|le|el|il|der|dem|am|on)\s+)?$", re.I)


def _iso_week(match: re.Match[str], ref: date, returning: bool) -> tuple[date | None, bool]:
    """Weeks by number ("vecka 29-32", "uge 30"): back on the Monday after the last one,
    or on the Monday of the week named after a return word ("tillbaka vecka 33")."""
    last = int(match["w2"] or match["w1"])
    year = ref.year
    if last < ref.isocalendar()[1] - 26:
        year += 1  # "week 2" written in December
    try:
        monday = date.fromisocalendar(year, last, 1)
    except ValueError:
        return None, False
    if returning:
        return monday, False
    return monday + timedelta(days=6), True


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
        if index + 1 < len(mentions):
            # "out on Friday, back Monday": a return word that leads to the next date is
            # that date's.
            gap = text[mention.end : mentions[index + 1].start]
            if len(gap) < 40 and _RETURN.search(gap):
                after = ""
        previous = mentions[index - 1] if index else None
        in_range = previous is not None and _RANGE_LINK.match(text[previous.end : mention.start])
        inclusive = mention.range_end or bool(
            _INCLUSIVE_BEFORE.search(before) or _INCLUSIVE_AFTER.match(after)
        )
        if (_RETURN.search(before) or _RETURN_AFTER.match(after)) and not inclusive:
            candidate = (0, resolved)
        elif inclusive or in_range:
            candidate = (1, resolved + timedelta(days=1))
        elif _UNTIL.search(before) or _UNTIL_DIRECT.search(before):
            candidate = (2, resolved)
        else:
            continue
        if ref is not None and candidate[1] < ref:
            continue
        if best is None or candidate[0] < best[0]:
            best = candidate
    if best is None and ref is not None and _NEXT_WEEK.search(text):
        return ref + timedelta(days=7 - ref.weekday())  # the Monday of next week
    return best[1] if best else None
