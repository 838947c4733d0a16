"""Simulator of the smartphone JPKI card app (マイナンバーカードのスマホアプリ) for the demo portal.

Importable without the web app::

    from simulators.cardapp import Card, CardStore, CardError, SigningRequest, Settings, init

``python -m simulators.cardapp --help`` lists the commands (init, serve, sign, reset-lock).
"""

from simulators.cardapp.card import PASSWORD_TRIES, PIN_TRIES, Card, CardStore
from simulators.cardapp.client import PortalClient, check_origin, origin_of
from simulators.cardapp.config import REPO_ROOT, Settings
from simulators.cardapp.errors import (
    CardError,
    CardLocked,
    InvalidSecretFormat,
    NoSignatureCertificate,
    PortalRefused,
    PortalUnreachable,
    RequestError,
    RequestExpired,
    SigningError,
    UnknownCard,
    WrongSecret,
)
from simulators.cardapp.provision import init
from simulators.cardapp.request import SigningRequest, summary_digest
from simulators.cardapp.service import Outcome, approve

__all__ = [
    "PASSWORD_TRIES",
    "PIN_TRIES",
    "REPO_ROOT",
    "Card",
    "CardError",
    "CardLocked",
    "CardStore",
    "InvalidSecretFormat",
    "NoSignatureCertificate",
    "Outcome",
    "PortalClient",
    "PortalRefused",
    "PortalUnreachable",
    "RequestError",
    "RequestExpired",
    "Settings",
    "SigningError",
    "SigningRequest",
    "UnknownCard",
    "WrongSecret",
    "approve",
    "check_origin",
    "init",
    "origin_of",
    "summary_digest",
]
