"""Value types shared by the records: strict ISO dates, shares, ISO codes, and the size limits of every value."""
from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints

_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")

# ISO 3166-1 alpha-2, officially assigned codes; kept inline so schema/ needs no extra package.
COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW
    BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ
    FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ
    IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH
    MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL
    PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD
    TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()
)


def parse_iso_date(value: Any) -> Any:
    """Accept only `YYYY-MM-DD` strings (or date objects); pydantic alone would also take timestamps."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        # fromisoformat alone would also take "20190630" or week dates; the shape check keeps YYYY-MM-DD only.
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            try:
                return date.fromisoformat(text)
            except ValueError as exc:
                raise ValueError(f"not a calendar date: {text!r}") from exc
    raise ValueError(f"expected an ISO date YYYY-MM-DD, got {value!r}")


def parse_share(value: Any) -> Any:
    """A fraction 0..1 or a percent string ("32.4%"); a bare number above 1 is refused, never guessed."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise ValueError("expected a fraction 0..1 or a percent string such as '32.4%'")
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            percent = float(match.group(1))
            if percent > 100:
                raise ValueError(f"a share cannot exceed 100%, got {value!r}")
            return percent / 100.0
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"expected a fraction 0..1 or a percent string such as '32.4%', got {value!r}") from None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError("NaN and Infinity are not shares: write a fraction 0..1 or a percent string")
        if value > 1:
            raise ValueError(f"{value} is above 1: write a fraction (0.324) or a percent string ('32.4%')")
        if value < 0:
            raise ValueError(f"a share cannot be negative, got {value}")
        return float(value)
    raise ValueError(f"expected a fraction 0..1 or a percent string, got {value!r}")


def parse_country(value: Any) -> Any:
    """Upper-case ISO 3166-1 alpha-2 code, checked against the official list."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if not isinstance(value, str) or value.strip().upper() not in COUNTRIES:
        raise ValueError(f"expected an ISO 3166-1 alpha-2 country code such as 'CN', got {value!r}")
    return value.strip().upper()


def parse_currency(value: Any) -> Any:
    """Upper-case three-letter ISO 4217 currency code."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise ValueError(f"expected a three-letter ISO 4217 currency code such as 'CNY', got {value!r}")
    return value.strip().upper()


IsoDate = Annotated[date | None, BeforeValidator(parse_iso_date)]
Share = Annotated[float | None, BeforeValidator(parse_share)]
Country = Annotated[str | None, BeforeValidator(parse_country)]
Currency = Annotated[str, BeforeValidator(parse_currency)]
Confidence = Annotated[float | None, Field(default=None, ge=0.0, le=1.0)]
EntityId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")]


def parse_identifiers(value: Any) -> Any:
    """Identifiers as a list of {scheme, id}; the older `{"scheme": "id"}` mapping is still accepted."""
    if isinstance(value, dict):
        return [{"scheme": scheme, "id": id} for scheme, id in value.items()]
    return value


# Limits on the size of values (README, "Errors and guarantees"): a record that can be stored can be read back
# and searched quickly. The caps stop abuse, not real data: they are set per field from what real files carry
# (OpenSanctions notes and sanction reasons run to several KB). A native file over a cap is refused with the
# field and the limit; an imported file's text over its cap is cut there with a warning (loaders.caps).
MAX_NAME = 1_000  # characters of a name
MAX_TEXT = 65_536  # characters of a description, a note, a reason, the details of an interest
MAX_TITLE = 16_384  # characters of a source's title (an FtM sanction's title carries its programme or reason)
MAX_LABEL = 1_000  # characters of any other text: an alias, a role, a label, a title, an identifier
MAX_URL = 2_048  # characters of a URL
MAX_ITEMS = 200  # items of any list (aliases, sources, figures, amounts, data) or entries of identifiers
MAX_COUNT = 2**63 - 1  # counts (records, lookups) fit a 64-bit integer, as both stores keep them

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_LABEL)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_LABEL)]  # a label that may not be empty
Url = Annotated[str, Field(max_length=MAX_URL)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
