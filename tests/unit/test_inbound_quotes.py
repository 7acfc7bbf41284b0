"""The new text of a reply: attribution lines of the common mail clients in the most used
languages, hard-wrapped attribution lines, quotes wrapped by a careless client, and inline
answers (issue 12, class 4). Messages and names are made up for these tests."""

from __future__ import annotations

import pytest

from pipeline.inbound.quotes import trim_reply

NEW = "Tuesday at 3pm works for me.\n\nDana"
QUOTE = "> Would you have 20 minutes next week for a short call?\n> \n> Sam"

# One attribution line per language and client, as the client writes it.
ATTRIBUTIONS = [
    # Gmail, web and mobile
    "On Tue, Mar 3, 2026 at 10:15 AM Sam Rivera <sam@example.edu> wrote:",
    "El mar, 3 mar 2026 a las 10:15, Sam Rivera (<sam@example.edu>) escribió:",
    "Le mar. 3 mars 2026 à 10:15, Sam Rivera <sam@example.edu> a écrit :",
    "Am Di., 3. März 2026 um 10:15 Uhr schrieb Sam Rivera <sam@example.edu>:",
    "Em ter., 3 de mar. de 2026 às 10:15, Sam Rivera <sam@example.edu> escreveu:",
    "Il giorno mar 3 mar 2026 alle ore 10:15 Sam Rivera <sam@example.edu> ha scritto:",
    "Op di 3 mrt 2026 om 10:15 schreef Sam Rivera <sam@example.edu>:",
    "вт, 3 мар. 2026 г. в 10:15, Sam Rivera <sam@example.edu>:",
    "вт, 3 бер. 2026 р. о 10:15 Sam Rivera <sam@example.edu> пише:",
    "wt., 3 mar 2026 o 10:15 Sam Rivera <sam@example.edu> napisał(a):",
    "Sam Rivera <sam@example.edu>, 3 Mar 2026 Sal, 10:15 tarihinde şunu yazdı:",
    "2026年3月3日(火) 10:15 Sam Rivera <sam@example.edu>:",
    "Sam Rivera <sam@example.edu> 于2026年3月3日周二 10:15写道：",
    "Sam Rivera <sam@example.edu> 於 2026年3月3日 週二 上午10:15寫道：",
    "2026년 3월 3일 (화) 오전 10:15, Sam Rivera <sam@example.edu>님이 작성:",
    "في الثلاثاء، 3 مارس 2026 في 10:15 ص، كتب Sam Rivera <sam@example.edu>:",
    "मंगल, 3 मार्च 2026 को 10:15 am बजे Sam Rivera <sam@example.edu> ने लिखा:",
    "মঙ্গল, ৩ মার্চ, ২০২৬ ১০:১৫ AM এ Sam Rivera <sam@example.edu> লিখেছেন:",
    "منگل، 3 مارچ، 2026 کو 10:15 AM Sam Rivera <sam@example.edu> نے لکھا:",
    "Pada tanggal Sel, 3 Mar 2026 pukul 10.15, Sam Rivera <sam@example.edu> menulis:",
    "Vào Th 3, 3 thg 3, 2026 vào lúc 10:15 Sam Rivera <sam@example.edu> đã viết:",
    "เมื่อ อ. 3 มี.ค. 2026 เวลา 10:15 Sam Rivera <sam@example.edu> เขียนว่า:",
    "در تاریخ سه‌شنبه ۳ مارس ۲۰۲۶ ساعت ۱۰:۱۵ Sam Rivera <sam@example.edu> نوشت:",
    "בתאריך יום ג׳, 3 במרץ 2026 ב-10:15 מאת Sam Rivera <sam@example.edu>:",
    "मंगळ, ३ मार्च, २०२६, १०:१५ AM रोजी Sam Rivera <sam@example.edu> यांनी लिहिले:",
    "మంగళ, 3 మార్చి, 2026 10:15 AMకి Sam Rivera <sam@example.edu> ఇలా రాశారు:",
    "செவ்., 3 மார்., 2026 அன்று 10:15 AM அன்று, Sam Rivera <sam@example.edu> எழுதியது:",
    "Den tis 3 mars 2026 kl 10:15 skrev Sam Rivera <sam@example.edu>:",
    "tir. 3. mar. 2026 kl. 10.15 skrev Sam Rivera <sam@example.edu>:",
    "ti 3.3.2026 klo 10.15 Sam Rivera (sam@example.edu) kirjoitti:",
    "út 3. 3. 2026 v 10:15 odesílatel Sam Rivera <sam@example.edu> napsal:",
    "El dt., 3 de març 2026 a les 10:15, Sam Rivera (<sam@example.edu>) va escriure:",
    "Στις Τρί 3 Μαρ 2026 στις 10:15 π.μ., ο/η Sam Rivera <sam@example.edu> έγραψε:",
    "Sam Rivera <sam@example.edu> ezt írta (időpont: 2026. márc. 3., K, 10:15):",
    "În mar., 3 mar. 2026 la 10:15, Sam Rivera <sam@example.edu> a scris:",
    # Apple Mail
    "On Mar 3, 2026, at 10:15, Sam Rivera <sam@example.edu> wrote:",
    "Am 03.03.2026 um 10:15 schrieb Sam Rivera <sam@example.edu>:",
    "2026. 3. 3. 오전 10:15, Sam Rivera <sam@example.edu> 작성:",
    "2026/03/03 10:15、Sam Rivera <sam@example.edu>のメール:",
    "2026年3月3日 10:15，Sam Rivera <sam@example.edu> 写道：",
    # Thunderbird and others: no address, a short date
    "On 3/3/26 10:15, Sam Rivera wrote:",
    "El 3/3/26 a les 10:15, Sam Rivera ha escrit:",
    "W dniu 3.03.2026 o 10:15, Sam Rivera pisze:",
    "03.03.2026 10:15, Sam Rivera пишет:",
    "Le 03/03/2026 à 10:15, Sam Rivera a écrit :",
    "Dne 3. 3. 2026 v 10:15 Sam Rivera napsal(a):",
    "3.3.2026 klo 10.15 Sam Rivera kirjoitti:",
]


# Attribution lines that the client wrapped over two lines.
WRAPPED = [
    "On Tue, Mar 3, 2026 at 10:15 AM Sam Rivera <sam@example.edu>\nwrote:",
    "On Tue, Mar 3, 2026 at 10:15 AM Sam Rivera\n<sam@example.edu> wrote:",
    "Il giovedì 5 marzo 2026, Sam Rivera <sam@example.edu>\nha scritto:",
    "Am Dienstag, 3. März 2026 schrieb Sam Rivera\n<sam@example.edu>:",
    "Le mardi 3 mars 2026 à 10:15, Sam Rivera <sam@example.edu> a\nécrit :",
    "W dniu 3 marca 2026 10:15 użytkownik Sam Rivera\n<sam@example.edu> napisał:",
    "El mar, 3 mar 2026 a las 10:15, Sam Rivera\n(<sam@example.edu>) escribió:",
]


def test_name_only_attribution_before_a_quote() -> None:
    """'Sam Rivera wrote:' without a date still introduces the quote below it."""
    body = f"{NEW}\n\nSam Rivera wrote:\n{QUOTE}\n"
    expected = NEW
    assert expected == trim_reply(body)


def test_wrote_in_a_sentence_is_not_an_attribution() -> None:
    """A sentence that says someone wrote something is part of the new text."""
    body = "My colleague wrote: the team is hiring in May.\nHappy to talk."
    assert body == trim_reply(body)


def test_inline_answers_keep_the_quotes_they_answer() -> None:
    """Answers written between quoted lines stay with the lines they answer; the quote
    above the first answer, right under the attribution line, goes (a bottom-post)."""
    body = (
        "On Tue, Mar 3, 2026 at 10:15 AM Sam Rivera <sam@example.edu> wrote:\n"
        "> Would Tuesday work?\n\nYes, Tuesday is fine.\n\n"
        "> Phone or video?\n\nVideo, please.\n\n> Thanks, Sam\n"
    )
    expected = "Yes, Tuesday is fine.\n\n> Phone or video?\n\nVideo, please."
    assert expected == trim_reply(body)


def test_quote_wrapped_without_marks_is_still_the_quote() -> None:
    """A long quoted line that the client wrapped without '>' is not an inline answer."""
    body = (
        f"{NEW}\n\n"
        "On Tue, Mar 3, 2026 at 10:15 AM Sam Rivera <sam@example.edu> wrote:\n"
        "> I am a student in product design and I would love to hear how you moved from\n"
        "research to a product role, and what you would do differently in my pla\n"
        "ce today.\n>\n> Thanks a lot,\n> Sam\n"
    )
    expected = NEW
    assert expected == trim_reply(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Works for me.\n\n-- \nJD\n", "Works for me."),
        ("Works for me.\n--\nJD\n\nOn 3/3/26 10:15, Sam Rivera wrote:\n> Hi\n", "Works for me."),
        (
            "Works for me.\n\n- JD\n\nOn 3/3/26 10:15, Sam Rivera wrote:\n> Hi\n",
            "Works for me.\n\n- JD",
        ),
        ("Works for me.\n—JD\n", "Works for me.\n—JD"),
    ],
)
def test_short_sign_off_around_a_dash_line(body: str, expected: str) -> None:
    """A signature after '--' goes; a sign-off written with a dash ('- JD') is text."""
    assert expected == trim_reply(body)


# Outlook's block of original headers, in the language of the client.
OUTLOOK_HEADERS = [
    "From: Sam Rivera <sam@example.edu>\nSent: Tuesday, March 3, 2026 10:15 AM\nTo: Dana",
    "发件人: Sam Rivera <sam@example.edu>\n发送时间: 2026年3月3日 10:15\n收件人: Dana",
    "寄件者: Sam Rivera <sam@example.edu>\n寄件日期: 2026年3月3日 上午 10:15\n收件者: Dana",
    "差出人: Sam Rivera <sam@example.edu>\n送信日時: 2026年3月3日 10:15\n宛先: Dana",
    "보낸 사람: Sam Rivera <sam@example.edu>\n보낸 날짜: 2026년 3월 3일 화요일 오전 10:15\n받는 사람: Dana",
    "Kimden: Sam Rivera <sam@example.edu>\nGönderildi: 3 Mart 2026 Salı 10:15\nKime: Dana",
    "من: Sam Rivera <sam@example.edu>\nتاريخ الإرسال: الثلاثاء، 3 مارس 2026 10:15 ص\nإلى: Dana",
    "Dari: Sam Rivera <sam@example.edu>\nDikirim: Selasa, 03 Maret 2026 10.15\nKepada: Dana",
    "Từ: Sam Rivera <sam@example.edu>\nĐã gửi: Thứ Ba, 3 tháng 3, 2026 10:15\nĐến: Dana",
    "Od: Sam Rivera <sam@example.edu>\nOdesláno: úterý 3. března 2026 10:15\nKomu: Dana",
    "Від: Sam Rivera <sam@example.edu>\nНадіслано: 3 березня 2026 р. 10:15\nКому: Dana",
    "Expeditor: Sam Rivera <sam@example.edu>\nTrimis: marți, 3 martie 2026 10:15\nCătre: Dana",
]

ORIGINAL = "Would you have 20 minutes next week?\n\nSam"
HISTORIES = [
    *(f"{line}\n{QUOTE}" for line in ATTRIBUTIONS),
    # Some clients (Outlook on the web, mobile) do not mark the quote with '>'.
    *(f"{line}\n\n{ORIGINAL}" for line in ATTRIBUTIONS),
    *(f"{line}\n{QUOTE}" for line in WRAPPED),
    *(f"{block}\nSubject: Informational interview?\n\n{ORIGINAL}" for block in OUTLOOK_HEADERS),
]


@pytest.mark.parametrize("history", HISTORIES)
def test_history_below_the_new_text_goes(history: str) -> None:
    """Given a reply above an attribution line or a header block and the quoted original,
    the new text is the reply alone, whatever the client and its language."""
    body = f"{NEW}\n\n{history}\n"
    expected = NEW
    assert expected == trim_reply(body)
