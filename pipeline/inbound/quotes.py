"""The new text of a reply: quoted history, forwarded mail and signatures taken away.

Each line is given one kind, then a few rules over the sequence of kinds decide where the
new text ends. Kinds:

- ``e`` empty line
- ``d`` delimiter: a line of dashes, underscores or stars, a signature separator ``--``,
  or an "----- Original Message -----" banner in any language
- ``s`` a mobile or client signature ("Sent from my iPhone", "Von meinem iPad gesendet")
- ``b`` the line (or lines) that introduce quoted mail: "On <date>, <someone> wrote:",
  "Am ... schrieb ...:", "Le ... a écrit :", "2016-01-01 10:00 GMT+01:00 Name <a@b>:",
  "Begin forwarded message:", "---------- Forwarded message ---------"
- ``h`` a header line of quoted mail: "From:", "Sent:", "Von:", "Envoyé :", "*Subject:*"
- ``q`` a quoted line: ``> text``, ``| text``, ``C> text``
- ``t`` anything else: text
"""

from __future__ import annotations

import re

# The verbs and phrases that end a quote header, in the languages of the common mail
# clients (Gmail, Apple Mail, Outlook, Thunderbird) and the twenty most used languages.
_WROTE = (
    r"(?:wrote|writes|schrieb|a\s+écrit|a\s+ecrit|escribió|escribio|escreveu|ha\s+scritto|"
    r"scrisse|geschreven|schreef|skrev|kirjoitti|napisał|napisal|napisała|pisze|pisał|"
    r"написал|написала|пишет|пише|написав|írta|yazdı|napsal|skrifaði|έγραψε|"
    r"ha\s+escrit|va\s+escriure|a\s+scris|menulis|đã\s+viết|"
    r"写道|寫道|님이\s*작성|작성|のメッセージ|のメール|書きました|wrote\s+on)"
    r"(?:\s*\([a-zа-я]{1,2}\))?"
)
# Scripts where \b does not fall where a word ends (combining vowel signs): the verb
# must end the line.
_NON_LATIN_WROTE = (
    r"写道|寫道|のメッセージ|のメール|書きました|작성|ने\s+लिखा|लिखा|লিখেছেন|نے\s+لکھا|لکھا|"
    r"كتب|نوشت|เขียนว่า|เขียน|यांनी\s+लिहिले|लिहिले|రాశారు|எழுதியது"
)
_QUOTE_HEADER_START = (
    r"(?:(?:On|Am|Le|El|Em|Il|Op|Den|Dnia|W\s+dniu|På|Dne|Ngày|Tanggal|Pada|Kl\.|Στις)\s|"
    r"在|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|[A-Za-zÀ-ÿ]{3,12},?\s+\d{1,2}|"
    r"понедельник|вторник|среда|четверг|пятница|суббота|воскресенье|\d{1,2}\s)"
)
_VERB_STEMS = (
    "wrote",
    "writes",
    "schrieb",
    "écrit",
    "ecrit",
    "escribi",
    "escreveu",
    "scritto",
    "scrisse",
    "geschreven",
    "schreef",
    "skrev",
    "kirjoitti",
    "napisa",
    "написал",
    "пише",
    "написав",
    "írta",
    "yazdı",
    "napsal",
    "skrifaði",
    "έγραψε",
    "写道",
    "寫道",
    "작성",
    "のメッセージ",
    "書きました",
    "のメール",
    "pisze",
    "pisał",
    "escrit",
    "escriure",
    "scris",
    "menulis",
    "viết",
    "пишет",
    "लिखा",
    "লিখেছেন",
    "لکھا",
    "كتب",
    "نوشت",
    "เขียน",
    "लिहिले",
    "రాశారు",
    "எழுதியது",
)
_STEM_RE = re.compile("|".join(re.escape(stem) for stem in _VERB_STEMS))
_DIGIT = re.compile(r"\d")
_HEADER_ON = re.compile(
    rf"^{_QUOTE_HEADER_START}.{{0,250}}?(?:{_WROTE})(?:\s+\S+){{0,12}}?\s*[:：]?$",
    re.IGNORECASE,
)
_HEADER_WROTE_COLON = re.compile(rf"^.{{0,250}}\b(?:{_WROTE})\b.{{0,120}}[:：]$", re.IGNORECASE)
# "26.06.2014, 14:41, "Name" <a@b>:" and "Thu, 26 Jun 2014 14:00 +0400 от Name <a@b>:"
_HEADER_TIME_EMAIL = re.compile(r"^.{0,120}\b\d{1,2}:\d{2}\b.{0,120}<[^<>\s]+@[^<>\s]+>\s*[:：]$")
_HEADER_CJK = re.compile(rf"^.{{0,250}}(?:{_NON_LATIN_WROTE})\s*[:：]?$")
# "Sam Rivera wrote:" with neither date nor address: a header only right above a quote.
_HEADER_NAME_ONLY = re.compile(rf"^.{{1,80}}\b{_WROTE}\s*[:：]$", re.IGNORECASE)
_HEADER_DATE_FIRST = re.compile(
    r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\s+"
    r"(?:\d{1,2}:\d{2}.{0,40}|.{0,80}(?:<[^>\s]+@[^>\s]+>|\S+@\S+)\s*:?)$"
)
_FORWARD = re.compile(
    r"^[-\s*_]*(?:begin\s+forwarded\s+message|forwarded\s+message|original\s+message|"
    r"mensaje\s+original|message\s+d'origine|message\s+transféré|ursprüngliche\s+nachricht|"
    r"weitergeleitete\s+nachricht|oorspronkelijk\s+bericht|doorgestuurd\s+bericht|"
    r"messaggio\s+originale|messaggio\s+inoltrato|mensagem\s+original|"
    r"mensagem\s+encaminhada|mensaje\s+reenviado|oprindelig\s+meddelelse|"
    r"opprinnelig\s+melding|ursprungligt\s+meddelande|vidarebefordrat\s+meddelande|"
    r"alkuperäinen\s+viesti|oryginalna\s+wiadomość|исходное\s+сообщение|"
    r"пересылаемое\s+сообщение|reply\s+message|original\s+email)\b[-\s*_:]*$",
    re.IGNORECASE,
)
_DELIMITER = re.compile(r"^\s*(?:[-_=*~+•—–ᐧ]\s*){2,}$|^\s*ᐧ\s*$|^-- ?$")
_QUOTE = re.compile(r"^\s*(?:>|\|(?:\s|$)|[A-Z]{1,3}>)")
_HEADER_NAMES = (
    "from|sent|date|to|cc|bcc|subject|reply-to|von|gesendet|datum|an|betreff|de|envoyé|"
    "à|a|objet|date|para|enviado|asunto|enviada|assunto|data|da|inviato|oggetto|"
    "risposta|van|verzonden|aan|onderwerp|fra|sendt|til|emne|från|skickat|till|ämne|"
    "od|wysłano|do|temat|от|отправлено|кому|тема|lähettäjä|lähetetty|vastaanottaja|"
    "aihe|kopie|kopia|dátum|feladó|címzett|tárgy|"
    # Outlook in Chinese, Japanese, Korean, Turkish, Arabic, Hebrew, Indonesian, Vietnamese,
    # Czech, Romanian, Greek, Ukrainian, Hindi
    "发件人|發件人|寄件者|发送时间|發送時間|寄件日期|收件人|收件者|抄送|副本|主题|主題|主旨|"
    "差出人|送信日時|宛先|件名|보낸\\s*사람|보낸\\s*날짜|받는\\s*사람|참조|제목|"
    "kimden|gönderildi|gönderilme tarihi|kime|konu|bilgi|"
    "من|تاريخ الإرسال|أرسلت|إلى|الموضوع|נשלח|מאת|אל|נושא|"
    "dari|dikirim|kepada|perihal|subjek|từ|đã gửi|đến|chủ đề|"
    "odesláno|předmět|komu|expeditor|trimis|către|subiect|"
    "από|στάλθηκε|προς|θέμα|надіслано|кому|тема|від|"
    "प्रेषक|भेजा गया|प्रति|विषय"
)
_HEADER = re.compile(rf"^\s*\*?(?:{_HEADER_NAMES})\s*\*?\s*[:：]\s*\*?\s*\S", re.IGNORECASE)
_FROM_HEADER = re.compile(
    r"^\s*\*?(?:from|von|de|da|van|fra|från|od|от|від|lähettäjä|feladó|发件人|發件人|寄件者|"
    r"差出人|보낸\s*사람|kimden|من|מאת|dari|từ|expeditor|από|प्रेषक)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(
    r"^\s*[(<]*\s*(?:"
    r"sent\s+(?:from|with|via|using|by)\s+|sent\s+on\s+the\s+go|"
    r"from\s+my\s+\w+|\w+\s+from\s+(?:my\s+)?mobile$|"
    r"get\s+(?:\[)?outlook\s+for|"
    r"envoyé\s+(?:de|depuis|avec|à\s+partir\s+de)\s+|"
    r"enviado\s+(?:desde|de|con)\s+|"
    r"inviato\s+da\s+|"
    r"verzonden\s+(?:met|vanaf|van)\s+|"
    r"(?:von|gesendet\s+von)\s+meinem\s+|gesendet\s+(?:von|mit)\s+|"
    r"diese\s+nachricht\s+wurde\s+von\s+meinem\s+|enviado\s+do\s+meu\s+|"
    r"sendt\s+fra\s+min\s+|skickat\s+från\s+min\s+|"
    r"wysłane\s+z\s+|отправлено\s+с\s+|"
    r"從我的|从我的|"
    r"sent\s+by\s+\w+"
    r")",
    re.IGNORECASE,
)
_SENTENCE_VERB = re.compile(r"\b(?:is|are|was|were)\b", re.IGNORECASE)
_JOIN_START = re.compile(rf"^{_QUOTE_HEADER_START}", re.IGNORECASE)
_DATE_OR_TIME = re.compile(r"\b(?:19|20)\d\d\b|\b\d{1,2}[:.]\d{2}\b")
_BANNER = re.compile(r"^\s*[*_]*\s*-{2,}\s*[^\W\d_][\w\s'’]{2,48}?\s*-{2,}\s*[*_]*\s*$")
_MAX_JOIN = 5
_EXTERNAL_BANNER = re.compile(
    r"^\s*\[?(?:caution|external(?: email)?|warning|attention|achtung|vorsicht)\]?\s*[:!-]"
    r".{0,300}\b(?:outside|external|extern|externen)\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_MAX_HEADER_LEN = 400
_MAX_CHARS = 100_000
_MAX_LINES = 2_000


def _is_signature(line: str) -> bool:
    if len(line) > 120 or not _SIGNATURE.match(line):
        return False
    # "Sent from my desk, is much easier than my phone." is a sentence, not a signature.
    return not _SENTENCE_VERB.search(line)


def _may_start_header(text: str) -> bool:
    """Whether a line could be the first of a quote header wrapped over several lines."""
    if text.endswith("<") or _EMAIL.search(text):
        return True
    if text.endswith((".", "!", "?")):
        return False
    return bool(_JOIN_START.match(text)) or (len(text) < 100 and bool(_DATE_OR_TIME.search(text)))


def _has_verb(text: str) -> bool:
    return _STEM_RE.search(text.lower()) is not None


def _is_quote_header(text: str) -> bool:
    if len(text) > _MAX_HEADER_LEN:
        return False
    if _FORWARD.match(text):
        return True
    if "@" not in text and not _DIGIT.search(text):
        return False
    if _HEADER_DATE_FIRST.match(text) or _HEADER_TIME_EMAIL.match(text):
        return True
    if not _has_verb(text):
        return False  # cheap test first: no "wrote" in any language, no quote header
    return bool(
        _HEADER_ON.match(text)
        or _HEADER_WROTE_COLON.match(text)
        or _HEADER_CJK.match(text)
        or _HEADER_DATE_FIRST.match(text)
    )


def _unquoted(line: str) -> str:
    """The line without leading quote marks and Zoho-style dashes, whitespace collapsed."""
    text = line.strip()
    text = text.lstrip(">").strip() if text.startswith(">") else text
    while text.startswith(">"):
        text = text[1:].strip()
    text = text.strip("-").strip()
    return " ".join(text.split())


def classify_lines(lines: list[str]) -> list[str]:
    """One kind letter per line (see the module docstring)."""
    kinds = ["t"] * len(lines)
    unquoted = [_unquoted(line) for line in lines]
    verbs = [_has_verb(text) for text in unquoted]  # a quote header has one somewhere
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped.strip(">").strip():
            kinds[i] = "e"
            i += 1
            continue
        # A quote header may run over several lines ("On ..., Name <\na@b> wrote:").
        joined = unquoted[i]
        matched = 0
        if len(joined) <= _MAX_HEADER_LEN:
            if _is_quote_header(joined):
                matched = 1
            elif any(verbs[i : i + _MAX_JOIN]) and _may_start_header(joined):
                for extra in range(1, _MAX_JOIN):
                    if i + extra >= n:
                        break
                    nxt = unquoted[i + extra]
                    if nxt and _JOIN_START.match(nxt) and _is_quote_header(nxt):
                        break  # the header starts on that later line, not here
                    if nxt:
                        joined = f"{joined} {nxt}" if not joined.endswith("<") else joined + nxt
                    if len(joined) > _MAX_HEADER_LEN:
                        break
                    if (nxt.endswith((":", "：", "wrote"))) and _is_quote_header(joined):
                        matched = extra + 1
                        break
        if matched:
            for k in range(i, i + matched):
                kinds[k] = "b"
            i += matched
            continue
        if _DELIMITER.match(line) or _BANNER.match(line):
            kinds[i] = "d"
        elif _is_signature(stripped):
            kinds[i] = "s"
        elif _QUOTE.match(line):
            kinds[i] = "q"
        elif _HEADER.match(line):
            kinds[i] = "h"
        elif verbs[i] and _HEADER_NAME_ONLY.match(unquoted[i]) and _quote_follows(lines, i):
            kinds[i] = "b"
        i += 1
    _mark_wrapped_quotes(lines, kinds)
    return kinds


def _quote_follows(lines: list[str], i: int) -> bool:
    """Whether the next line with something on it is a quoted line."""
    for line in lines[i + 1 : i + 3]:
        if line.strip():
            return bool(_QUOTE.match(line))
    return False


_WRAP_WIDTH = 60


def _mark_wrapped_quotes(lines: list[str], kinds: list[str]) -> None:
    """Lines a client wrapped out of a long quoted line, without the '>', are quote too.

    A run of text lines counts as such when it follows a quoted line of wrapping width
    with no blank line between, and a quoted line follows it directly as well."""
    n = len(kinds)
    i = 1
    while i < n:
        if kinds[i] == "t" and kinds[i - 1] == "q" and len(lines[i - 1].rstrip()) >= _WRAP_WIDTH:
            j = i
            while j < n and kinds[j] == "t" and j - i < 3:
                j += 1
            if j < n and (kinds[j] == "q" or lines[j].lstrip().startswith(">")):
                for k in range(i, j):
                    kinds[k] = "q"
            i = j
        i += 1


def _skip_header_block(kinds: list[str], start: int) -> int:
    """Index after a run of header lines (and their wrapped continuations) from start."""
    i = start
    n = len(kinds)
    while i < n:
        if kinds[i] == "h":
            i += 1
        elif kinds[i] == "t" and i + 1 < n and kinds[i + 1] == "h":
            i += 1  # a header wrapped over two lines
        else:
            break
    return i


def _header_run_length(kinds: list[str], start: int) -> int:
    """How many header lines follow from start, blank lines (HTML mail) not counted.

    One text line right after the first header is allowed ("On Behalf Of ...")."""
    count = 0
    i = start
    allowance = 1
    while i < len(kinds):
        if kinds[i] == "h":
            count += 1
        elif kinds[i] == "t" and count == 1 and allowance:
            allowance -= 1
        elif kinds[i] != "e":
            break
        i += 1
    return count


def trim_reply(text: str) -> str:
    """The new text of a plain-text reply, without quoted history and signatures."""
    text = text[:_MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n", _MAX_LINES)[:_MAX_LINES]  # new text is at the top
    first = next((k for k, line in enumerate(lines) if line.strip()), None)
    if first is not None and _EXTERNAL_BANNER.match(lines[first]):
        lines = lines[first + 1 :]  # "CAUTION: This email originated from outside ..."
    kinds = classify_lines(lines)

    # A mobile or client signature ends the new text; one before any text just goes.
    seen_text = False
    for index, kind in enumerate(kinds):
        if kind == "t":
            seen_text = True
        elif kind == "s" and seen_text:
            lines, kinds = lines[:index], kinds[:index]
            break
    keep = [i for i, k in enumerate(kinds) if k != "s"]
    lines = [lines[i] for i in keep]
    kinds = [kinds[i] for i in keep]

    # A message that starts with a quote header or a forward banner: the new text is
    # what follows it (a forward), after any quoted block that precedes text.
    start = 0
    while start < len(kinds) and kinds[start] == "e":
        start += 1
    leading_headers = (
        start < len(kinds)
        and kinds[start] == "h"
        and _FROM_HEADER.match(lines[start]) is not None
        and _header_run_length(kinds, start) >= 2
    )
    if leading_headers:
        kinds[start] = "d"  # headers of a forwarded message without a banner
    if start < len(kinds) and kinds[start] in "bd":
        i = start
        while i < len(kinds) and kinds[i] in "bde":
            i = _skip_header_block(kinds, i + 1) if kinds[i] in "bd" else i + 1
        j = i
        while j < len(kinds) and kinds[j] in "qe":
            j += 1
        if j < len(kinds) and kinds[j] == "t" and j > i:
            i = j
        lines, kinds = lines[i:], kinds[i:]

    has_text = False
    end = len(kinds)
    i = 0
    while i < end:
        kind = kinds[i]
        if kind == "t":
            has_text = True
        elif kind == "d" and has_text:
            end = i
            break
        elif kind == "h" and has_text:
            run = _header_run_length(kinds, i)
            if run >= 3 or (run >= 2 and _FROM_HEADER.match(lines[i])):
                end = i
                break
        elif kind == "b" and has_text:
            j = i
            while j < end and kinds[j] == "b":
                j += 1
            k = j
            while k < end and kinds[k] == "e":
                k += 1
            if k < end and kinds[k] == "q":
                m = k
                while m < end and kinds[m] in "qeb":
                    m += 1
                if m < end and kinds[m] == "t":
                    # Inline answers between quotes: drop only the header line.
                    del lines[i:j]
                    del kinds[i:j]
                    end -= j - i
                    continue
            end = i
            break
        i += 1
    lines, kinds = lines[:end], kinds[:end]

    # Any quote header left over (one with nothing before it) goes too.
    pairs = [(ln, k) for ln, k in zip(lines, kinds, strict=True) if k != "b"]
    lines = [p[0] for p in pairs]
    kinds = [p[1] for p in pairs]

    # A quote that ends the message after some text is history, not new text.
    if "t" in kinds:
        while kinds and kinds[-1] in "qe":
            kinds.pop()
            lines.pop()
    return _strip_blank_lines(lines)


def _strip_blank_lines(lines: list[str]) -> str:
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    end = len(lines)
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])
