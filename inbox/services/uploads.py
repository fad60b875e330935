"""CSV audiences: a file of phone numbers and per-recipient variables, imported as a whole.

Format (docs/broadcasts.md, "CSV audiences"): UTF-8 with or without a byte-order mark,
comma or semicolon separated (read from the header line), a header row with a `phone`
column (any case). `opt_in` is an optional column; every other column is a variable a
broadcast parameter can name (`{"column": "seat"}`). A line with an unusable phone, the
wrong number of fields or a bad `opt_in` value is reported with its line number and left
out; a phone repeating an earlier line's is reported as a duplicate of that line. Blank
lines are ignored.

All or nothing: the upload row, its recipient rows, the contacts it creates and the
opt-ins it records are written in one transaction. Lines are streamed into a temporary
table with COPY as they are read (memory stays flat for a million lines); duplicates,
contacts and consent are then a handful of set-based statements.

Consent: a CSV is not consent by itself. Contacts are matched by phone or created
without consent. Only a line whose `opt_in` says yes/true/1 records an opt-in
(ConsentEvent, source `csv`, by the uploading agent), and only for a contact with no
opt-out of any kind on record and not opted in already: a file can never override an
opt-out, nor lift a marketing-only one (which an all-purpose opt-in would do).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils.translation import gettext_lazy

from accounts.models import User
from inbox.models import AudienceUpload, AudienceUploadRow, ConsentEvent, Contact
from inbox.phones import phone_normalize

CONTACT = Contact._meta.db_table
ROW = AudienceUploadRow._meta.db_table
CONSENT = ConsentEvent._meta.db_table
STAGE = "audience_upload_stage"

DEFAULTS: dict[str, int] = {
    # A million lines of phone + a few variables fit in about 50 MB.
    "AUDIENCE_UPLOAD_MAX_BYTES": 50 * 1024 * 1024,
    "AUDIENCE_UPLOAD_MAX_ROWS": 1_000_000,
}
MAX_COLUMNS = 50
MAX_COLUMN_NAME = 100
# WhatsApp's limit for one body parameter's text.
MAX_VALUE = 1024
# Errors kept on the upload and returned by the API; `error_count` counts them all.
MAX_ERRORS_KEPT = 1000
OPT_IN_YES = frozenset({"yes", "y", "true", "1"})
OPT_IN_NO = frozenset({"", "no", "n", "false", "0"})

FILE_EMPTY = gettext_lazy("The file is empty.")
FILE_NOT_TEXT = gettext_lazy("The file is not UTF-8 text; save it as CSV UTF-8 and upload it again.")
FILE_NOT_CSV = gettext_lazy("The file is not a CSV file.")
FILE_NO_ROWS = gettext_lazy("The file has a header but no lines below it.")
FILE_TOO_LARGE = gettext_lazy("The file is over {limit} MB; split it into smaller files.")
FILE_TOO_MANY_ROWS = gettext_lazy("The file has more than {limit} lines; split it into smaller files.")
HEADER_NO_PHONE = gettext_lazy("The header (line 1) has no `phone` column.")
HEADER_DUPLICATE = gettext_lazy("The header (line 1) names the column {name!r} twice.")
HEADER_BLANK = gettext_lazy("Column {index} of the header (line 1) has no name.")
HEADER_TOO_LONG = gettext_lazy("A column name has at most {limit} characters.")
HEADER_TOO_MANY = gettext_lazy("A file has at most {limit} columns.")
LINE_FIELDS = gettext_lazy("The line has {found} fields; the header has {expected}.")
LINE_NO_PHONE = gettext_lazy("The line has no phone number.")
LINE_BAD_PHONE = "{value!r} is not a phone number in international format, e.g. +4915112345678."
LINE_DUPLICATE = gettext_lazy("The phone number {phone} is already on line {first}.")
LINE_OPT_IN = "opt_in must be yes, true or 1 (or no, false, 0 or empty); found {value!r}."
LINE_VALUE_TOO_LONG = gettext_lazy("The value of {column!r} is over {limit} characters.")
LINE_UNREADABLE = gettext_lazy("The line cannot be read as CSV: {reason}.")


class UploadTooLargeError(ValidationError):
    """The file is over the size or line limit (API: 413 `too_large`)."""


@dataclass
class UploadResult:
    """What an import gave: the upload (None when no line could be used, and then nothing
    was stored), the lines accepted, and the rejected lines (the first MAX_ERRORS_KEPT,
    by line; `error_count` counts them all)."""

    upload: AudienceUpload | None
    rows: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0


def conf(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))


def _text(file: UploadedFile) -> io.TextIOWrapper:
    """The file as UTF-8 text (a BOM is dropped), lines kept as written for the csv module.

    Refuses a binary file (NUL bytes at the start) at once; bytes that are not UTF-8 are
    found while reading (UnicodeDecodeError).
    """
    raw = getattr(file, "file", file)
    raw.seek(0)
    head = raw.read(8192)
    raw.seek(0)
    if b"\x00" in head:
        raise ValidationError({"file": [FILE_NOT_CSV]})
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _delimiter(header: str) -> str:
    """`;` when the header line has more semicolons than commas (Excel in many locales), else `,`."""
    return ";" if header.count(";") > header.count(",") else ","


def _header(cells: list[str]) -> tuple[int, int | None, list[tuple[int, str]]]:
    """(phone index, opt_in index or None, [(index, variable name)]) of the header row."""
    names = [cell.strip() for cell in cells]
    if len(names) > MAX_COLUMNS:
        raise ValidationError({"file": [HEADER_TOO_MANY.format(limit=MAX_COLUMNS)]})
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if not name:
            raise ValidationError({"file": [HEADER_BLANK.format(index=index)]})
        if len(name) > MAX_COLUMN_NAME:
            raise ValidationError({"file": [HEADER_TOO_LONG.format(limit=MAX_COLUMN_NAME)]})
        if name.lower() in seen:
            raise ValidationError({"file": [HEADER_DUPLICATE.format(name=name)]})
        seen.add(name.lower())
    lowered = [name.lower() for name in names]
    if "phone" not in lowered:
        raise ValidationError({"file": [HEADER_NO_PHONE]})
    phone = lowered.index("phone")
    opt_in = lowered.index("opt_in") if "opt_in" in lowered else None
    variables = [(i, name) for i, name in enumerate(names) if i not in (phone, opt_in)]
    return phone, opt_in, variables


@dataclass(frozen=True)
class _Refusal:
    message: str
    bad_phone: bool = False


class _Errors:
    """Rejected lines: all counted, the first MAX_ERRORS_KEPT kept."""

    def __init__(self) -> None:
        self.kept: list[dict[str, Any]] = []
        self.count = 0
        self.invalid_phone = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_ERRORS_KEPT:
            self.kept.append({"line": line, "message": message})


def _line_parse(
    cells: list[str], *, width: int, phone_at: int, opt_in_at: int | None, variables: list[tuple[int, str]]
) -> tuple[str, dict[str, str], bool] | _Refusal:
    """(phone, variables, opt_in) of a data line, or why it is refused."""
    if len(cells) != width:
        return _Refusal(LINE_FIELDS.format(found=len(cells), expected=width))
    raw_phone = cells[phone_at].strip()
    if not raw_phone:
        return _Refusal(LINE_NO_PHONE, bad_phone=True)
    try:
        phone = phone_normalize(raw_phone)
    except ValidationError:
        return _Refusal(LINE_BAD_PHONE.format(value=raw_phone[:40]), bad_phone=True)
    opt_in = False
    if opt_in_at is not None:
        flag = cells[opt_in_at].strip().lower()
        if flag not in OPT_IN_YES and flag not in OPT_IN_NO:
            return _Refusal(LINE_OPT_IN.format(value=cells[opt_in_at].strip()[:40]))
        opt_in = flag in OPT_IN_YES
    values: dict[str, str] = {}
    for index, name in variables:
        value = cells[index].strip()
        if len(value) > MAX_VALUE:
            return _Refusal(LINE_VALUE_TOO_LONG.format(column=name, limit=MAX_VALUE))
        values[name] = value
    return phone, values, opt_in


def upload_create(*, file: UploadedFile, created_by: User | None) -> UploadResult:
    """Imports a CSV audience (module doc): all accepted lines, or nothing.

    Raises ValidationError for a file that is unusable as a whole (empty, not UTF-8 text,
    no `phone` column, no lines), UploadTooLargeError (a ValidationError) for one over
    AUDIENCE_UPLOAD_MAX_BYTES or AUDIENCE_UPLOAD_MAX_ROWS. When every line is refused,
    nothing is stored and `upload` is None.
    """
    max_bytes = conf("AUDIENCE_UPLOAD_MAX_BYTES")
    if file.size is not None and file.size > max_bytes:
        raise UploadTooLargeError({"file": [FILE_TOO_LARGE.format(limit=max_bytes // (1024 * 1024))]})
    if not file.size:
        raise ValidationError({"file": [FILE_EMPTY]})
    file.seek(0)
    with transaction.atomic():
        return _import(file=file, created_by=created_by)


def _import(*, file: UploadedFile, created_by: User | None) -> UploadResult:
    text = _text(file)
    try:
        return _import_text(text, name=getattr(file, "name", "") or "", created_by=created_by)
    except UnicodeDecodeError:
        raise ValidationError({"file": [FILE_NOT_TEXT]}) from None
    finally:
        text.detach()  # the upload handler closes the file itself


def _import_text(text: io.TextIOWrapper, *, name: str, created_by: User | None) -> UploadResult:
    # Blank lines before the header are skipped but still counted in line numbers.
    offset = 0
    header_line = None
    for candidate in text:
        if candidate.strip():
            header_line = candidate
            break
        offset += 1
    if header_line is None:
        raise ValidationError({"file": [FILE_EMPTY]})
    reader = csv.reader(itertools.chain([header_line], text), delimiter=_delimiter(header_line), strict=True)
    try:
        header_cells = next(reader)
    except csv.Error as exc:
        raise ValidationError({"file": [LINE_UNREADABLE.format(reason=exc)]}) from None
    phone_at, opt_in_at, variables = _header(header_cells)
    width = len(header_cells)
    max_rows = conf("AUDIENCE_UPLOAD_MAX_ROWS")
    errors = _Errors()
    seen_lines = staged = 0
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} (line integer NOT NULL, phone text NOT NULL, variables jsonb NOT NULL,"
            " opt_in boolean NOT NULL) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY {STAGE} (line, phone, variables, opt_in) FROM STDIN") as copy:
            while True:
                line = reader.line_num + 1 + offset
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    errors.add(line, LINE_UNREADABLE.format(reason=exc))
                    continue
                if not any(cell.strip() for cell in cells):
                    continue
                seen_lines += 1
                if seen_lines > max_rows:
                    raise UploadTooLargeError({"file": [FILE_TOO_MANY_ROWS.format(limit=max_rows)]})
                parsed = _line_parse(cells, width=width, phone_at=phone_at, opt_in_at=opt_in_at, variables=variables)
                if isinstance(parsed, _Refusal):
                    errors.add(line, str(parsed.message))
                    errors.invalid_phone += parsed.bad_phone
                    continue
                phone, values, opt_in = parsed
                copy.write_row((line, phone, json.dumps(values), opt_in))
                staged += 1
        # Temporary tables are never analysed automatically; the statements below join it.
        cursor.execute(f"ANALYZE {STAGE}")
        if seen_lines == 0 and errors.count == 0:
            raise ValidationError({"file": [FILE_NO_ROWS]})
        duplicates = _duplicates(cursor)
        repeated = [
            {"line": line, "message": LINE_DUPLICATE.format(phone=phone, first=first)}
            for line, phone, first in duplicates["kept"]
        ]
        # Both lists hold their first MAX_ERRORS_KEPT by line, so the merge's first ones are exact.
        kept = sorted(errors.kept + repeated, key=lambda e: e["line"])[:MAX_ERRORS_KEPT]
        errors.count += duplicates["count"]
        accepted = staged - duplicates["count"]
        if accepted <= 0:
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
            return UploadResult(upload=None, rows=0, errors=kept, error_count=errors.count)
        upload = AudienceUpload.objects.create(
            original_name=name[:255],
            columns=[column for _, column in variables],
            rows_accepted=accepted,
            error_count=errors.count,
            invalid_phone_count=errors.invalid_phone,
            duplicate_count=duplicates["count"],
            errors=kept,
            created_by=created_by,
        )
        name_column = next((column for _, column in variables if column.lower() == "name"), None)
        upload.opt_ins_recorded = _rows_store(cursor, upload=upload, name_column=name_column, created_by=created_by)
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
    if upload.opt_ins_recorded:
        upload.save(update_fields=["opt_ins_recorded"])
    return UploadResult(upload=upload, rows=accepted, errors=kept, error_count=errors.count)


def _duplicates(cursor: Any) -> dict[str, Any]:
    """Staged lines repeating an earlier line's phone: the first MAX_ERRORS_KEPT by line, and how many."""
    cursor.execute(
        f"""WITH d AS (
              SELECT line, phone, min(line) OVER (PARTITION BY phone) AS first FROM {STAGE}
            ) SELECT line, phone, first, count(*) OVER () FROM d WHERE line <> first ORDER BY line LIMIT %s""",  # noqa: S608
        [MAX_ERRORS_KEPT],
    )
    rows = cursor.fetchall()
    return {"kept": [(line, phone, first) for line, phone, first, _ in rows], "count": rows[0][3] if rows else 0}


def _rows_store(cursor: Any, *, upload: AudienceUpload, name_column: str | None, created_by: User | None) -> int:
    """Creates missing contacts, stores the first line of each phone, records opt-ins; returns
    how many opt-ins were recorded. Set-based: a handful of statements for any number of lines."""
    detail = f"opt_in column of CSV upload {upload.public_id} ({upload.original_name[:60]}), line "
    recorded_by = created_by.pk if created_by else None
    # New contacts: a `name` column names them; a yes in `opt_in` creates them opted in
    # with their ledger event in the same statement (no opt-out can exist for them yet),
    # which spares rewriting every new row a second time.
    cursor.execute(
        f"""WITH first AS (
              SELECT DISTINCT ON (phone) line, phone, variables, opt_in FROM {STAGE} ORDER BY phone, line
            ), new AS (
              INSERT INTO {CONTACT} (public_id, phone, wa_id, name, profile_name, attributes, opted_in, opted_out,
                  marketing_opted_out, created_at, updated_at)
              SELECT gen_random_uuid(), f.phone, '', left(COALESCE(f.variables->>%(name)s, ''), 200), '',
                  '{{}}'::jsonb, f.opt_in, false, false, now(), now()
              FROM first f ORDER BY f.phone
              ON CONFLICT (phone) DO NOTHING
              RETURNING id, phone, opted_in
            )
            INSERT INTO {CONSENT} (public_id, contact_id, action, purpose, source, detail, recorded_by_id, created_at)
            SELECT gen_random_uuid(), new.id, %(action)s, %(purpose)s, 'csv', %(detail)s || f.line, %(by)s, now()
            FROM new JOIN first f ON f.phone = new.phone
            WHERE new.opted_in""",  # noqa: S608 - table names only
        {
            "name": name_column or "",
            "action": ConsentEvent.Action.OPT_IN,
            "purpose": ConsentEvent.Purpose.ALL,
            "detail": detail,
            "by": recorded_by,
        },
    )
    recorded = cursor.rowcount
    cursor.execute(
        f"""INSERT INTO {ROW} (upload_id, line, phone, contact_id, variables, opt_in)
            SELECT %s, s.line, s.phone, c.id, s.variables, s.opt_in
            FROM (SELECT DISTINCT ON (phone) line, phone, variables, opt_in FROM {STAGE} ORDER BY phone, line) s
            JOIN {CONTACT} c ON c.phone = s.phone
            ORDER BY s.line""",  # noqa: S608 - table names only
        [upload.pk],
    )
    # Existing contacts: the UPDATE locks each one and re-checks its flags, so an opt-out
    # committed meanwhile wins; the event is appended under that lock (as consent_record does).
    cursor.execute(
        f"""WITH opted AS (
              UPDATE {CONTACT} c SET opted_in = true, updated_at = now()
              FROM {ROW} r
              WHERE r.upload_id = %(upload)s AND r.opt_in AND r.contact_id = c.id
                AND NOT c.opted_in AND NOT c.opted_out AND NOT c.marketing_opted_out
              RETURNING c.id, r.line
            )
            INSERT INTO {CONSENT} (public_id, contact_id, action, purpose, source, detail, recorded_by_id, created_at)
            SELECT gen_random_uuid(), opted.id, %(action)s, %(purpose)s, 'csv', %(detail)s || opted.line, %(by)s, now()
            FROM opted""",  # noqa: S608 - table names only
        {
            "upload": upload.pk,
            "action": ConsentEvent.Action.OPT_IN,
            "purpose": ConsentEvent.Purpose.ALL,
            "detail": detail,
            "by": recorded_by,
        },
    )
    return recorded + cursor.rowcount
