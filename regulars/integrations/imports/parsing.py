"""Reading cells: amounts as Decimal (never a float), dates in the business's time zone, yes/no.

Every parser takes the stripped text of a non-empty cell and returns a value or raises
`CellError` with a stable code and parameters; the message is rendered later, in the language of
whoever reads it (`problems.describe`). The common shapes ("12.50", ISO dates) take a fast path:
a million rows are read twice per import.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from regulars.lib.money import CENT
from regulars.lib.phone import normalise_phone

# The largest amount a MONEY column holds (12 digits, 2 of them decimals).
MAX_AMOUNT = Decimal("9999999999.99")
ENCODINGS = ["utf-8", "cp1250", "cp1251", "cp1252"]
DELIMITERS = [",", ";", "\t", "|"]
DECIMALS = ["auto", ".", ","]
DATE_FORMATS = ["iso", "dmy", "mdy", "ymd"]
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


class CellError(ValueError):
    """A cell that cannot be read; `code` selects the message in `problems.MESSAGES`."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = {k: str(v) for k, v in params.items()}


# --- amounts ------------------------------------------------------------------------------

_PLAIN_DOT = re.compile(r"-?\d{1,10}(?:\.\d{1,2})?")
_PLAIN_COMMA = re.compile(r"-?\d{1,10}(?:,\d{1,2})?")
# Everything that is not a digit, a separator or a sign: currency symbols, codes, letters.
_NOT_NUMBER = re.compile(r"[^\d.,'\-+\s\u00a0\u202f]")
_SPACES = re.compile(r"[\s'\u00a0\u202f]")
_GROUPED_SPACES = re.compile(r"\d{1,3}(?:[\s'\u00a0\u202f]\d{3})+(?:[.,]\d+)?")


def parse_amount(text: str, decimal: str = "auto") -> Decimal:
    """'1 234,50', '1,234.50', '$6.50', '-€2', '(3.00)', '1234.5' → Decimal, in cents.

    `decimal` is the decimal separator ("." or ","); "auto" reads it from the value itself and
    refuses what could be read two ways ("1,234" is 1234 or 1.234), naming the option to set.
    The result can be negative; callers decide whether that is allowed.
    """
    if decimal != "," and _PLAIN_DOT.fullmatch(text):
        return Decimal(text).quantize(CENT)
    if decimal != "." and _PLAIN_COMMA.fullmatch(text):
        # At most two digits after the comma: a decimal comma, whatever `decimal` says.
        return Decimal(text.replace(",", ".")).quantize(CENT)
    return _parse_amount(text, decimal)


def _parse_amount(text: str, decimal: str) -> Decimal:
    body = text.strip()
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1]
    body = _NOT_NUMBER.sub("", body).strip()
    if body.endswith("-"):
        negative, body = True, body[:-1].strip()
    if body.startswith(("-", "+")):
        negative, body = negative or body[0] == "-", body[1:].strip()
    if any(ch in body for ch in " '\u00a0\u202f\t"):
        if not _GROUPED_SPACES.fullmatch(body):
            raise CellError("not_amount", value=text)
        body = _SPACES.sub("", body)
    if not body or not body[0].isdigit() and body[0] not in ".,":
        raise CellError("not_amount", value=text)
    separator = decimal if decimal in (".", ",") else _guess_separator(body, text)
    grouping = "," if separator == "." else "."
    whole, _, fraction = body.partition(separator) if separator else (body, "", "")
    if separator and separator in fraction or grouping in fraction:
        raise CellError("not_amount", value=text)
    if grouping in whole:
        if not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(grouping)}\d{{3}})+", whole):
            raise CellError("not_amount", value=text)
        whole = whole.replace(grouping, "")
    if not (whole or fraction) or not (whole + fraction).isdigit():
        raise CellError("not_amount", value=text)
    try:
        value = Decimal(f"{whole or '0'}.{fraction or '0'}")
    except InvalidOperation as exc:
        raise CellError("not_amount", value=text) from exc
    if value != value.quantize(CENT):
        raise CellError("too_precise", value=text)
    if value > MAX_AMOUNT:
        raise CellError("too_large", value=text)
    value = value.quantize(CENT)
    return -value if negative else value


def _guess_separator(body: str, text: str) -> str:
    """The decimal separator of one value, or "" for a whole number; ambiguous ones raise."""
    dot, comma = body.rfind("."), body.rfind(",")
    if dot >= 0 and comma >= 0:
        return "." if dot > comma else ","
    if dot < 0 and comma < 0:
        return ""
    mark = "." if dot >= 0 else ","
    if body.count(mark) > 1:
        return "," if mark == "." else "."  # "1.234.567": the mark groups thousands
    whole, fraction = body.split(mark)
    if len(fraction) == 3 and whole not in ("", "0") and len(whole) <= 3:
        raise CellError("ambiguous_amount", value=text)
    return mark


def guess_decimal(samples: list[str]) -> str:
    """The decimal separator the amounts of a file agree on, or "auto" when they do not say."""
    seen = set()
    for text in samples:
        try:
            body = _NOT_NUMBER.sub("", text).strip().lstrip("-+(").rstrip(")-")
            body = _SPACES.sub("", body)
            mark = _guess_separator(body, text)
        except CellError:
            continue
        if mark:
            seen.add(mark)
    return seen.pop() if len(seen) == 1 else "auto"


# --- quantities ---------------------------------------------------------------------------


def parse_quantity(text: str) -> int | Decimal:
    """A positive quantity: an int for whole numbers, a Decimal for weights ('0,25')."""
    if text.isdigit():
        value = int(text)
        if value < 1:
            raise CellError("zero_quantity", value=text)
        return value
    try:
        value = Decimal(text.replace(",", ".").replace(" ", ""))
    except InvalidOperation as exc:
        raise CellError("not_quantity", value=text) from exc
    if not value.is_finite():
        raise CellError("not_quantity", value=text)
    if value < 0:
        raise CellError("negative", value=text)
    if value == 0:
        raise CellError("zero_quantity", value=text)
    if value == value.to_integral_value():
        return int(value)
    return value


# --- dates --------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
_ISO_SHAPE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}|$)")


def parse_datetime(text: str, fmt: str) -> datetime:
    """A date, with its time if it has one: naive unless the text carries an offset.

    `fmt` is "iso" (2025-10-07 09:50:26 +0200, 2025-10-07T09:50Z, 2025-10-07), an order of
    day, month and year ("dmy" 31.05.2016 0:37, "mdy" 5/31/2016 12:37 PM, "ymd" 2016/05/31),
    or a strptime pattern with % signs for anything else.
    """
    shown = fmt
    if fmt == "iso":
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            fmt = "ymd"  # '2025-10-07 9:50' and '2025.10.07' are ISO dates in spirit
    if "%" in fmt:
        try:
            return datetime.strptime(text, fmt)
        except ValueError as exc:
            raise CellError("not_date", value=text, format=shown) from exc
    parts = _DIGITS.findall(text)
    if len(parts) < 3:
        raise CellError("not_date", value=text, format=shown)
    if fmt == "dmy":
        d, m, y = parts[0], parts[1], parts[2]
    elif fmt == "mdy":
        m, d, y = parts[0], parts[1], parts[2]
    else:
        y, m, d = parts[0], parts[1], parts[2]
    year = int(y)
    if len(y) == 2:
        year += 2000 if year < 70 else 1900
    elif len(y) != 4:
        raise CellError("not_date", value=text, format=shown)
    hour, minute, second = _clock(parts[3:6], text)
    try:
        return datetime(year, int(m), int(d), hour, minute, second)
    except ValueError as exc:
        raise CellError("not_date", value=text, format=shown) from exc


def _clock(parts: list[str], text: str) -> tuple[int, int, int]:
    if not parts:
        return 0, 0, 0
    hour = int(parts[0])
    minute = int(parts[1]) if len(parts) > 1 else 0
    second = int(parts[2]) if len(parts) > 2 else 0
    lowered = text.lower()
    if "pm" in lowered and hour < 12:
        hour += 12
    elif "am" in lowered and hour == 12:
        hour = 0
    return hour, minute, second


def parse_time(text: str) -> time:
    """'9:05', '09:05:30', '9:05 PM' → a time of day."""
    parts = _DIGITS.findall(text)
    if not parts or len(parts) > 4:
        raise CellError("not_time", value=text)
    try:
        return time(*_clock(parts[:3], text))
    except ValueError as exc:
        raise CellError("not_time", value=text) from exc


def parse_date(text: str, fmt: str) -> date:
    return parse_datetime(text, fmt).date()


def parse_moment(text: str, fmt: str) -> datetime | date:
    """A datetime when the text has a time of day, else a date (the caller picks the time)."""
    value = parse_datetime(text, fmt)
    has_clock = ("%H" in fmt or "%I" in fmt) if "%" in fmt else ":" in text
    return value if has_clock or value.tzinfo is not None else value.date()


@dataclass(frozen=True)
class DateGuess:
    format: str
    ambiguous: bool = False


def guess_date_format(samples: list[str]) -> DateGuess:
    """The date format a file's dates agree on.

    ISO if every sample is shaped like ISO; year first if the first number has four digits; day or
    month first when some day is above 12; otherwise ambiguous (04/05/2024), and day first
    unless the dates use slashes, the US habit. The owner sees the preview and can change it.
    """
    samples = [s for s in samples if s]
    if not samples:
        return DateGuess("iso")
    # ISO-shaped is enough: one impossible date (2024-02-30) must not change the format.
    if all(_ISO_SHAPE.match(text) for text in samples):
        return DateGuess("iso")
    numbers = [_DIGITS.findall(s) for s in samples]
    numbers = [n for n in numbers if len(n) >= 3]
    if not numbers:
        return DateGuess("iso", ambiguous=True)
    if all(len(n[0]) == 4 for n in numbers):
        return DateGuess("ymd")
    day_first = any(int(n[0]) > 12 for n in numbers)
    month_first = any(int(n[1]) > 12 for n in numbers)
    if day_first and not month_first:
        return DateGuess("dmy")
    if month_first and not day_first:
        return DateGuess("mdy")
    slashes = sum("/" in s for s in samples) > len(samples) / 2
    return DateGuess("mdy" if slashes else "dmy", ambiguous=True)


# --- other cells --------------------------------------------------------------------------

YES = {"yes", "y", "true", "t", "1", "x", "subscribed", "opted in", "opt in", "on",
       "igen", "да", "так", "da"}  # fmt: skip
NO = {"no", "n", "false", "f", "0", "unsubscribed", "not subscribed", "not_subscribed",
      "opted out", "never subscribed", "off", "nem", "нет", "ні", "ne"}  # fmt: skip


def parse_bool(text: str) -> bool:
    lowered = " ".join(text.lower().replace("_", " ").split())
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    raise CellError("not_yes_no", value=text)


def parse_email(text: str) -> str:
    email = text.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise CellError("not_email", value=text) from exc
    return email


def parse_phone(text: str) -> str:
    phone = normalise_phone(text.lstrip("'"))  # Excel users prefix '+36… with an apostrophe
    if not 6 <= len(phone.lstrip("+")) <= 15:
        raise CellError("not_phone", value=text)
    return phone


def parse_language(text: str) -> str:
    code = text.strip().lower().replace("_", "-").split("-")[0]
    if code not in LANGUAGE_CODES:
        raise CellError("not_language", value=text, choices=", ".join(sorted(LANGUAGE_CODES)))
    return code


def parse_tags(text: str) -> list[str]:
    return [t.strip()[:60] for t in re.split(r"[,;]", text) if t.strip()]


def text_of(limit: int):
    def parse(text: str) -> str:
        if len(text) > limit:
            raise CellError("too_long", limit=limit)
        return text

    return parse


# --- files --------------------------------------------------------------------------------

SNIFF_BYTES = 256 * 1024


@dataclass
class Sniffed:
    """What the start of a file says about it: encoding, delimiter, headers and sample rows."""

    encoding: str
    delimiter: str
    headers: list[str]
    rows: list[list[str]]
    encoding_guessed: bool = False


def codec_for(encoding: str) -> str:
    # utf-8-sig reads files with and without the byte-order mark that Excel writes.
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def guess_encoding(head: bytes) -> tuple[str, bool]:
    """UTF-8 when the bytes decode as UTF-8; otherwise the Windows code page they look like."""
    try:
        head.decode("utf-8")
        return "utf-8", False
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:
            return "utf-8", False  # a character cut at the end of the sample
    # Cyrillic words are runs of high bytes; in Central European text an accented letter sits
    # between ASCII letters ("Összeg", "Árpád"). So: how many high bytes have a high neighbour?
    high = [i for i, b in enumerate(head) if b >= 0x80]
    paired = sum(
        1
        for i in high
        if (i + 1 < len(head) and head[i + 1] >= 0x80) or (i > 0 and head[i - 1] >= 0x80)
    )
    return ("cp1251" if high and paired / len(high) > 0.5 else "cp1250"), True


def guess_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def sniff(path: str, *, encoding: str | None = None, delimiter: str | None = None,
          rows: int = 20) -> Sniffed:  # fmt: skip
    """Read the start of a file: guess what is not given, return the headers and first rows."""
    with open(path, "rb") as raw:
        head = raw.read(SNIFF_BYTES)
    guessed = False
    if not encoding:
        encoding, guessed = guess_encoding(head)
    text = head.decode(codec_for(encoding), errors="replace")
    if len(head) == SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # no half line at the end of the sample
    first_line = text.split("\n", 1)[0]
    if not delimiter:
        delimiter = guess_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers = next(reader, [])
    sample = []
    for row in reader:
        if any(cell.strip() for cell in row):
            sample.append(row)
        if len(sample) >= rows:
            break
    return Sniffed(encoding, delimiter, [h.strip() for h in headers], sample, guessed)
