"""Checks of what a firm sends on /developers/: every field is checked and every problem collected, in
Japanese and English, before anything is stored. Nothing here writes.

A JWKS that holds a private key is refused, and the refusal says so without repeating the key: the page
must not show it again either (`FirmInputInvalid.withheld`).
"""

import ipaddress
import json
import re
import unicodedata
import warnings
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from portal.consents.scopes import (
    DATA_SCOPES,
    MEDICAL_PERIODIC_MAX_DAYS,
    MEDICAL_SCOPES,
    OPENID,
    SCOPES_SUPPORTED,
)
from portal.core.errors import PortalError
from portal.firms.models import AccessKind

MAX_REDIRECT_URIS = 10
MAX_PURPOSES = 10
MAX_KEYS = 10
MAX_JWKS_CHARS = 20_000
MAX_URL_CHARS = 400
MAX_ACCESS_DAYS = 365
MAX_RETENTION_DAYS = 3650
MIN_RSA_BITS = 2048
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Members that only a private (or symmetric) key has (RFC 7518 sections 6.2.2, 6.3.2 and 6.4).
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
ALGORITHMS = {"EC": {"ES256"}, "RSA": {"RS256", "PS256"}}
PURPOSE_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Problem:
    field: str
    message_ja: str
    message_en: str

    def as_dict(self) -> dict:
        return {"field": self.field, "message": {"ja": self.message_ja, "en": self.message_en}}


class FirmInputInvalid(PortalError):
    """Everything wrong with one submission; `withheld` names fields whose input must not be shown again."""

    def __init__(self, problems: list[Problem], withheld: frozenset[str] = frozenset()) -> None:
        super().__init__(
            code="firm_input_invalid",
            message_ja="入力内容に誤りがあります。各項目のメッセージを確認してください。何も保存していません。",
            message_en=(
                "Some of what you entered is not right; see the message at each field. Nothing was saved."
            ),
            status=422,
            extra={"problems": [p.as_dict() for p in problems]},
        )
        self.problems = problems
        self.withheld = withheld

    def for_field(self, name: str) -> list[Problem]:
        return [p for p in self.problems if p.field == name]


@dataclass
class Problems:
    items: list[Problem] = field(default_factory=list)
    withheld: set[str] = field(default_factory=set)

    def add(self, field_name: str, message_ja: str, message_en: str) -> None:
        self.items.append(Problem(field_name, message_ja, message_en))

    def raise_if_any(self) -> None:
        if self.items:
            raise FirmInputInvalid(self.items, frozenset(self.withheld))


# --- 法人番号 -----------------------------------------------------------------------------------------------


def corporate_number_check_digit(base: str) -> int:
    """The National Tax Agency's check digit of a 12-digit base number (法人番号の指定等に関する省令 第2条):
    9 − (Σ Pn × Qn mod 9), Pn the n-th digit counted from the least significant, Qn 1 for odd n, 2 for
    even n. It is never 0."""
    if not re.fullmatch(r"[0-9]{12}", base):
        raise ValueError("a base number is 12 digits")
    total = sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(base), start=1))
    return 9 - total % 9


def corporate_number_normalize(text: str) -> str:
    """Full-width digits become ASCII; the hyphens and spaces people write between groups go."""
    return re.sub(r"[\s\-‐－ー]", "", unicodedata.normalize("NFKC", text or ""))


def corporate_number_problem(number: str) -> tuple[str, str] | None:
    """Why a (normalized) corporate number is not one, in Japanese and English; None when it is."""
    if not number:
        return "法人番号を入力してください。", "Enter the corporate number."
    if not re.fullmatch(r"[0-9]{13}", number):
        return "法人番号は13桁の数字で入力してください。", "The corporate number is 13 digits."
    if int(number[0]) != corporate_number_check_digit(number[1:]):
        return (
            "法人番号の検査用数字（先頭の1桁）が合いません。番号をお確かめください。",
            "The corporate number's check digit (its first digit) does not match; please check the number.",
        )
    return None


def corporate_number_clean(problems: Problems, field_name: str, raw: str) -> str:
    number = corporate_number_normalize(raw)
    problem = corporate_number_problem(number)
    if problem:
        problems.add(field_name, *problem)
    return number


# --- plain fields -----------------------------------------------------------------------------------------


def text_clean(
    problems: Problems,
    field_name: str,
    raw: str,
    *,
    label_ja: str,
    label_en: str,
    max_length: int,
    required: bool = True,
) -> str:
    value = unicodedata.normalize("NFC", (raw or "").strip())
    if not value:
        if required:
            problems.add(field_name, f"{label_ja}を入力してください。", f"Enter the {label_en}.")
        return ""
    if len(value) > max_length:
        problems.add(
            field_name,
            f"{label_ja}は{max_length}文字以内で入力してください。",
            f"The {label_en} must be at most {max_length} characters.",
        )
    elif CONTROL_CHARACTERS.search(value):
        problems.add(
            field_name,
            f"{label_ja}に使えない文字（改行や制御文字）が含まれています。",
            f"The {label_en} contains characters that cannot be used (line breaks or control characters).",
        )
    return value


def email_clean(problems: Problems, field_name: str, raw: str) -> str:
    value = (raw or "").strip()
    if not value:
        problems.add(
            field_name, "連絡先のメールアドレスを入力してください。", "Enter the contact e-mail address."
        )
        return ""
    try:
        validate_email(value)
    except ValidationError:
        problems.add(
            field_name,
            "メールアドレスの形式が正しくありません。",
            "The e-mail address is not a valid address.",
        )
    return value


def phone_clean(problems: Problems, field_name: str, raw: str) -> str:
    value = unicodedata.normalize("NFKC", (raw or "").strip())
    if not value:
        return ""
    digits = re.sub(r"[\s\-()+]", "", value)
    if not re.fullmatch(r"\+?[0-9][0-9\s\-()]*", value) or not 10 <= len(digits) <= 15:
        problems.add(
            field_name,
            "電話番号は10〜15桁の数字で入力してください（ハイフン可）。",
            "The phone number is 10 to 15 digits (hyphens allowed).",
        )
    return value


def days_clean(
    problems: Problems,
    field_name: str,
    raw: str,
    *,
    label_ja: str,
    label_en: str,
    maximum: int,
) -> int | None:
    value = unicodedata.normalize("NFKC", (raw or "").strip())
    if not value:
        problems.add(field_name, f"{label_ja}を日数で入力してください。", f"Enter the {label_en} in days.")
        return None
    if not re.fullmatch(r"[0-9]{1,6}", value) or not 1 <= int(value) <= maximum:
        problems.add(
            field_name,
            f"{label_ja}は1〜{maximum}日で入力してください。",
            f"The {label_en} must be from 1 to {maximum} days.",
        )
        return None
    return int(value)


# --- URLs -------------------------------------------------------------------------------------------------


def _url_shape_problem(value: str) -> tuple[str, str] | None:
    """What every URL here must be: short, one line, no spaces, parsable, a host, no user part."""
    if len(value) > MAX_URL_CHARS:
        return (
            f"URLは{MAX_URL_CHARS}文字以内にしてください。",
            f"A URL must be at most {MAX_URL_CHARS} characters.",
        )
    if re.search(r"\s", value) or CONTROL_CHARACTERS.search(value):
        return "URLに空白や制御文字は使えません。", "A URL cannot contain spaces or control characters."
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a port out of range
    except ValueError:
        return "URLの形式が正しくありません。", "The URL is not well formed."
    if not parts.hostname:
        return "URLにホスト名がありません。", "The URL has no host."
    if "@" in parts.netloc:
        return (
            "URLにユーザー名やパスワード（@の前）は入れられません。",
            "A URL cannot carry a user name or password (before @).",
        )
    return None


def _is_loopback(host: str) -> bool:
    return host.lower() in LOOPBACK_HOSTS


def redirect_uri_problem(value: str) -> tuple[str, str] | None:
    """RFC 6749 3.1.2 and RFC 9700: an absolute URI, https (or http on a loopback host, RFC 8252 7.3),
    no fragment, no wildcard; it is compared exactly when used."""
    problem = _url_shape_problem(value)
    if problem:
        return problem
    parts = urlsplit(value)
    if "#" in value:
        return (
            "リダイレクトURIにフラグメント（#以降）は入れられません。",
            "A redirect URI cannot have a fragment (#...).",
        )
    if "*" in value:
        return (
            "リダイレクトURIにワイルドカード（*）は使えません。完全なURIを登録してください。",
            "A redirect URI cannot contain a wildcard (*); register each full URI.",
        )
    scheme = parts.scheme.lower()
    if scheme == "https":
        return None
    if scheme == "http" and _is_loopback(parts.hostname or ""):
        return None
    return (
        "リダイレクトURIは https にしてください"
        "（開発用には http://127.0.0.1、http://[::1]、http://localhost も使えます）。",
        "A redirect URI must be https (for development, http://127.0.0.1, http://[::1] or http://localhost).",
    )


def redirect_uris_clean(problems: Problems, field_name: str, raw: str) -> list[str]:
    lines = [line.strip() for line in (raw or "").splitlines() if line.strip()]
    if not lines:
        problems.add(
            field_name,
            "リダイレクトURIを1行に1つ入力してください。",
            "Enter the redirect URIs, one per line.",
        )
        return []
    uris = list(dict.fromkeys(lines))
    if len(uris) > MAX_REDIRECT_URIS:
        problems.add(
            field_name,
            f"リダイレクトURIは{MAX_REDIRECT_URIS}個までです。",
            f"At most {MAX_REDIRECT_URIS} redirect URIs.",
        )
        return uris
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem:
            problems.add(field_name, f"{uri[:80]}: {problem[0]}", f"{uri[:80]}: {problem[1]}")
    return uris


def https_url_clean(problems: Problems, field_name: str, raw: str, *, label_ja: str, label_en: str) -> str:
    value = (raw or "").strip()
    if not value:
        problems.add(field_name, f"{label_ja}を入力してください。", f"Enter the {label_en}.")
        return ""
    problem = _url_shape_problem(value)
    if problem is None and urlsplit(value).scheme.lower() != "https":
        problem = (f"{label_ja}は https のURLにしてください。", f"The {label_en} must be an https URL.")
    if problem:
        problems.add(field_name, *problem)
    return value


def _private_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def callback_url_clean(problems: Problems, field_name: str, raw: str) -> str:
    """The portal itself POSTs here when a consent ends, so in production it must be https on a public
    host: a loopback or private address would make the portal call into its own network."""
    value = (raw or "").strip()
    if not value:
        problems.add(
            field_name, "通知先URL（コールバックURL）を入力してください。", "Enter the callback URL."
        )
        return ""
    problem = _url_shape_problem(value)
    if problem:
        problems.add(field_name, *problem)
        return value
    parts = urlsplit(value)
    host = parts.hostname or ""
    scheme = parts.scheme.lower()
    if "#" in value:
        problems.add(
            field_name,
            "通知先URLにフラグメント（#以降）は入れられません。",
            "The callback URL cannot have a fragment.",
        )
    elif settings.PRODUCTION and (scheme != "https" or _is_loopback(host) or _private_address(host)):
        problems.add(
            field_name,
            "通知先URLは、インターネットから届く https のURLにしてください。",
            "The callback URL must be an https URL reachable from the internet.",
        )
    elif not (scheme == "https" or (scheme == "http" and _is_loopback(host))):
        problems.add(
            field_name,
            "通知先URLは https にしてください（開発用には http://127.0.0.1 なども使えます）。",
            "The callback URL must be https (for development, http://127.0.0.1 and the like).",
        )
    return value


# --- JWKS -------------------------------------------------------------------------------------------------


def _key_problem(number: int, key: object) -> tuple[str, str] | None:
    """Why the number-th key of a JWKS cannot be registered, before it is parsed."""
    if not isinstance(key, dict):
        return f"{number}番目の鍵がJSONオブジェクトではありません。", f"Key {number} is not a JSON object."
    if any(member in key for member in PRIVATE_MEMBERS):
        return (
            f"{number}番目の鍵に秘密鍵の値（d など）が含まれています。公開鍵だけを登録してください。"
            "この秘密鍵は漏えいしたものとして扱い、作り直してください。何も保存していません。",
            f'Key {number} holds private key material (such as "d"). Register public keys only, and treat '
            "this private key as exposed: make a new one. Nothing was saved.",
        )
    kty = key.get("kty")
    if kty not in ALGORITHMS:
        return (
            f"{number}番目の鍵の種類（kty）は EC か RSA にしてください。",
            f"Key {number} must be of type (kty) EC or RSA.",
        )
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid.strip() or len(kid) > 64 or CONTROL_CHARACTERS.search(kid):
        return (
            f"{number}番目の鍵に鍵ID（kid、64文字以内）を付けてください。",
            f"Key {number} needs a key id (kid, at most 64 characters).",
        )
    if kty == "EC" and key.get("crv") != "P-256":
        return (
            f"{number}番目の鍵（EC）は P-256 曲線にしてください。",
            f"Key {number} (EC) must be on curve P-256.",
        )
    alg = key.get("alg")
    if alg is not None and alg not in ALGORITHMS[kty]:
        allowed = ", ".join(sorted(ALGORITHMS[kty]))
        return (
            f"{number}番目の鍵のアルゴリズム（alg）は {allowed} にしてください。",
            f"Key {number}'s algorithm (alg) must be {allowed}.",
        )
    key_ops = key.get("key_ops", ["verify"])
    if (
        key.get("use") not in (None, "sig")
        or not isinstance(key_ops, list)
        or any(op != "verify" for op in key_ops)
    ):
        return (
            f"{number}番目の鍵は署名の検証用（use: sig）にしてください。",
            f'Key {number} must be for verifying signatures (use "sig").',
        )
    return None


def _public_key(number: int, key: dict) -> tuple[dict | None, tuple[str, str] | None]:
    """The key parsed by joserfc (points on the curve, RSA parameters), as the public JWK to store."""
    unreadable = (
        f"{number}番目の鍵を読み取れません（値が正しくありません）。",
        f"Key {number} cannot be read (its values are not right).",
    )
    key_class = ECKey if key["kty"] == "EC" else RSAKey
    members = {
        name: value for name, value in key.items() if name not in {"alg", "use", "key_ops", "x5c", "x5t"}
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc warns of short RSA keys; they are refused below
            parsed = key_class.import_key(members)
    except (JoseError, ValueError, TypeError, KeyError, AttributeError):
        return None, unreadable
    if parsed.is_private:
        return None, unreadable
    if key["kty"] == "RSA" and parsed.raw_value.key_size < MIN_RSA_BITS:
        return None, (
            f"{number}番目の鍵（RSA）は{MIN_RSA_BITS}ビット以上にしてください。",
            f"Key {number} (RSA) must be at least {MIN_RSA_BITS} bits.",
        )
    public = parsed.as_dict(private=False)
    public = {name: public[name] for name in ("kty", "crv", "x", "y", "n", "e") if name in public}
    public["kid"] = key["kid"]
    public["use"] = "sig"
    if "alg" in key:
        public["alg"] = key["alg"]
    return public, None


def jwks_clean(problems: Problems, field_name: str, raw: str) -> dict:
    """The public JWKS to store ({"keys": [...]}: kty, kid, use and the public members only)."""
    text = (raw or "").strip()
    if not text:
        problems.add(field_name, "公開鍵（JWKS）を入力してください。", "Enter the public keys (JWKS).")
        return {}
    if len(text) > MAX_JWKS_CHARS:
        problems.add(
            field_name,
            f"JWKS は{MAX_JWKS_CHARS}文字以内にしてください。",
            f"The JWKS must be at most {MAX_JWKS_CHARS} characters.",
        )
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        problems.add(
            field_name,
            f"JWKS を JSON として読めません（{error.lineno}行目 {error.colno}文字目）。",
            f"The JWKS is not valid JSON (line {error.lineno}, column {error.colno}).",
        )
        return {}
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        problems.add(
            field_name,
            'JWKS は {"keys": [...]} の形で、鍵を1つ以上含めてください。',
            'A JWKS is {"keys": [...]} with at least one key.',
        )
        return {}
    if len(keys) > MAX_KEYS:
        problems.add(field_name, f"鍵は{MAX_KEYS}個までです。", f"At most {MAX_KEYS} keys.")
        return {}
    public_keys: list[dict] = []
    for number, key in enumerate(keys, start=1):
        problem = _key_problem(number, key)
        if problem is None:
            public, problem = _public_key(number, key)
        if problem:
            problems.add(field_name, *problem)
            if isinstance(key, dict) and any(member in key for member in PRIVATE_MEMBERS):
                problems.withheld.add(field_name)
            continue
        public_keys.append(public)
    kids = [key["kid"] for key in public_keys]
    if len(set(kids)) != len(kids):
        problems.add(field_name, "同じ鍵ID（kid）が複数あります。", "Two keys have the same key id (kid).")
    return {"keys": public_keys}


# --- purposes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurposeInput:
    """One purpose block of the form, as typed."""

    code: str = ""
    description_ja: str = ""
    description_en: str = ""
    scopes: tuple[str, ...] = ()
    access_kind: str = ""
    interval_days: str = ""
    access_days: str = ""

    def is_blank(self) -> bool:
        return not any(
            (self.code.strip(), self.description_ja.strip(), self.description_en.strip(), self.scopes)
        )


@dataclass(frozen=True)
class CleanPurpose:
    code: str
    description_ja: str
    description_en: str
    scopes: list[str]
    access_kind: str
    interval_days: int | None
    access_days: int


def purpose_clean(problems: Problems, prefix: str, number: int, raw: PurposeInput) -> CleanPurpose:
    label = f"目的{number}"
    code = (raw.code or "").strip()
    if not code:
        problems.add(
            f"{prefix}code", f"{label}の目的コードを入力してください。", f"Enter purpose {number}'s code."
        )
    elif not PURPOSE_CODE.fullmatch(code):
        problems.add(
            f"{prefix}code",
            f"{label}の目的コードは半角英小文字・数字・ハイフン・下線で50文字以内にしてください"
            "（例: mortgage-screening）。",
            f"Purpose {number}'s code must be lower-case letters, digits, - and _, at most 50 characters "
            "(for example mortgage-screening).",
        )
    description_ja = text_clean(
        problems,
        f"{prefix}description_ja",
        raw.description_ja,
        label_ja=f"{label}の説明（日本語）",
        label_en=f"description of purpose {number} in Japanese",
        max_length=400,
    )
    description_en = text_clean(
        problems,
        f"{prefix}description_en",
        raw.description_en,
        label_ja=f"{label}の説明（英語）",
        label_en=f"description of purpose {number} in English",
        max_length=400,
    )
    chosen = {scope for scope in raw.scopes if scope != OPENID}
    unknown = sorted(chosen - set(DATA_SCOPES))
    if unknown:
        problems.add(
            f"{prefix}scopes",
            f"{label}に使えないスコープがあります: {', '.join(s[:40] for s in unknown[:5])}",
            f"Purpose {number} names scopes that do not exist: {', '.join(s[:40] for s in unknown[:5])}",
        )
    elif not chosen:
        problems.add(
            f"{prefix}scopes",
            f"{label}で必要な情報（スコープ）を1つ以上選んでください。",
            f"Choose at least one item (scope) purpose {number} needs.",
        )
    access_days = days_clean(
        problems,
        f"{prefix}access_days",
        raw.access_days,
        label_ja=f"{label}の利用期間",
        label_en=f"access period of purpose {number}",
        maximum=MAX_ACCESS_DAYS,
    )
    interval_days = None
    if raw.access_kind not in AccessKind.values:
        problems.add(
            f"{prefix}access_kind",
            f"{label}の取得方法（1回限り／定期的）を選んでください。",
            f"Choose how purpose {number} pulls the data (one-time or periodic).",
        )
    elif raw.access_kind == AccessKind.PERIODIC:
        interval_days = days_clean(
            problems,
            f"{prefix}interval_days",
            raw.interval_days,
            label_ja=f"{label}の取得間隔",
            label_en=f"interval of purpose {number}",
            maximum=MAX_ACCESS_DAYS,
        )
        if interval_days and access_days and interval_days > access_days:
            problems.add(
                f"{prefix}interval_days",
                f"{label}の取得間隔が利用期間より長くなっています。",
                f"Purpose {number}'s interval is longer than its access period.",
            )
        medical = sorted(chosen & MEDICAL_SCOPES)
        if medical and access_days and access_days > MEDICAL_PERIODIC_MAX_DAYS:
            problems.add(
                f"{prefix}access_days",
                f"{label}: 医療に関する情報（薬剤・健診・医療費）を定期的に取得する期間は"
                f"最長{MEDICAL_PERIODIC_MAX_DAYS}日です。",
                f"Purpose {number}: periodic access to medical data (medicines, checkups, medical expenses) "
                f"lasts at most {MEDICAL_PERIODIC_MAX_DAYS} days.",
            )
    return CleanPurpose(
        code=code,
        description_ja=description_ja,
        description_en=description_en,
        # openid first, then the rest in the list's fixed order: the stored form of a purpose.
        scopes=[scope for scope in SCOPES_SUPPORTED if scope in chosen | {OPENID}],
        access_kind=raw.access_kind,
        interval_days=interval_days,
        access_days=access_days or 0,
    )


def purposes_clean(problems: Problems, raws: list[PurposeInput]) -> list[CleanPurpose]:
    """Blank blocks are skipped; `purposes-<i>-<field>` names each field (i from 0, as in the form)."""
    filled = [(index, raw) for index, raw in enumerate(raws) if not raw.is_blank()]
    if not filled:
        problems.add("purposes", "利用目的を1つ以上入力してください。", "Enter at least one purpose.")
        return []
    if len(filled) > MAX_PURPOSES:
        problems.add("purposes", f"利用目的は{MAX_PURPOSES}個までです。", f"At most {MAX_PURPOSES} purposes.")
        return []
    purposes = [purpose_clean(problems, f"purposes-{index}-", index + 1, raw) for index, raw in filled]
    codes = [p.code for p in purposes if p.code]
    if len(set(codes)) != len(codes):
        problems.add("purposes", "同じ目的コードが複数あります。", "Two purposes have the same code.")
    return purposes


# --- the whole application --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationInput:
    """The application form as typed (strings), parsed by the view, checked whole by application_clean."""

    legal_name: str = ""
    legal_name_en: str = ""
    corporate_number: str = ""
    address: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    privacy_policy_url: str = ""
    retention_days: str = ""
    redirect_uris: str = ""
    callback_url: str = ""
    jwks: str = ""
    purposes: tuple[PurposeInput, ...] = ()


# The application's own fields (its purposes aside), in the form's order: the names of the form's inputs and
# of the Firm fields they are stored in, for the form and the staff's review alike.
APPLICATION_FIELDS = tuple(f.name for f in fields(ApplicationInput) if f.name != "purposes")


@dataclass(frozen=True)
class CleanApplication:
    legal_name: str
    legal_name_en: str
    corporate_number: str
    address: str
    contact_name: str
    contact_email: str
    contact_phone: str
    privacy_policy_url: str
    retention_days: int
    redirect_uris: list[str]
    callback_url: str
    jwks: dict
    purposes: list[CleanPurpose]


def application_clean(problems: Problems, raw: ApplicationInput) -> CleanApplication:
    """Every field checked; the problems are collected in `problems` (the caller raises them)."""
    return CleanApplication(
        legal_name=text_clean(
            problems, "legal_name", raw.legal_name, label_ja="法人名", label_en="legal name", max_length=200
        ),
        legal_name_en=text_clean(
            problems,
            "legal_name_en",
            raw.legal_name_en,
            label_ja="法人名（英語）",
            label_en="legal name in English",
            max_length=200,
            required=False,
        ),
        corporate_number=corporate_number_clean(problems, "corporate_number", raw.corporate_number),
        address=text_clean(
            problems, "address", raw.address, label_ja="所在地", label_en="address", max_length=400
        ),
        contact_name=text_clean(
            problems,
            "contact_name",
            raw.contact_name,
            label_ja="担当者名",
            label_en="contact person's name",
            max_length=100,
        ),
        contact_email=email_clean(problems, "contact_email", raw.contact_email),
        contact_phone=phone_clean(problems, "contact_phone", raw.contact_phone),
        privacy_policy_url=https_url_clean(
            problems,
            "privacy_policy_url",
            raw.privacy_policy_url,
            label_ja="プライバシーポリシーのURL",
            label_en="privacy policy URL",
        ),
        retention_days=days_clean(
            problems,
            "retention_days",
            raw.retention_days,
            label_ja="保存期間",
            label_en="retention period",
            maximum=MAX_RETENTION_DAYS,
        )
        or 0,
        redirect_uris=redirect_uris_clean(problems, "redirect_uris", raw.redirect_uris),
        callback_url=callback_url_clean(problems, "callback_url", raw.callback_url),
        jwks=jwks_clean(problems, "jwks", raw.jwks),
        purposes=purposes_clean(problems, list(raw.purposes)),
    )
