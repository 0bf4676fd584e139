"""The detector set behind :mod:`agentracer.recording.redact`: which text counts as a secret (or as PII).

Sources, in the order they run:

1. **Block rules**: PEM private keys (the whole block, header to footer), bearer/basic ``Authorization`` values
   and passwords in URLs (``scheme://user:password@host``).
2. **detect-secrets** (Yelp, ``pip install detect-secrets``): the ``denylist`` regexes of every
   regex-based plugin it ships (AWS, Azure storage, JWT, Stripe, Slack, Twilio, SendGrid, npm, PyPI, Discord,
   Telegram, GitLab, Mailchimp, Square, Artifactory, IBM, Cloudant, Softlayer, OpenAI...), read from the
   installed package, so a new release brings its new plugins. Its IP-address plugin is left out (an IP is not
   a credential) and so are its keyword and entropy plugins (replaced by 4 and 5 below, which mask instead of
   only flagging). Where a plugin's regex has a capture group, only the group is masked.
3. **Documented formats detect-secrets lacks**, from gitleaks' rule set: Google OAuth ``ya29.``, Google API
   ``AIza``, Mailgun ``key-``, Stripe restricted/secret keys of any length, npm ``npm_``, Azure ``AccountKey=``
   of any length, Slack webhooks and ``xox*`` tokens, Twilio ``SK`` in either case, SendGrid ``SG.x.y``,
   Anthropic/OpenAI/OpenRouter ``sk-``, GitHub ``github_pat_``/``gh*_``, Hugging Face ``hf_``, DigitalOcean,
   Shopify, Databricks, Postman, Linear, Doppler, Pulumi, New Relic, Grafana, Vault, Groq, Replicate, age keys,
   Mapbox, Slack app tokens, Stripe webhooks, Atlassian, Azure AD client secrets, Notion, Perplexity, xAI,
   Airtable, Supabase, Sentry, Figma, Fly.io, PlanetScale, Netlify, Tailscale, 1Password, Terraform Cloud,
   Contentful, Facebook, Duffel, Dynatrace, EasyPost, Prefect, ReadMe, RubyGems, Sendinblue, Shippo, Alibaba,
   Heroku, Discord webhooks, Twitter bearer tokens.
4. **Keyword assignments** in env, YAML, JSON, ``.ini`` and code form: a name holding ``secret``,
   ``password``/``passwd``/``pwd``, ``credential``, or ending in ``key`` or ``token`` (``AWS_SECRET_ACCESS_KEY=…``,
   ``api_key: …``, ``"auth_token": "…"``, ``client_secret = …``), followed by a value of at least 8 characters
   (6 for passwords) that is not a number; the value is masked, the name kept.
5. **High entropy** (opt-in, ``entropy=True``): a run of at least 20 base64/URL-safe characters holding both
   letters and digits whose Shannon entropy is at least :data:`ENTROPY_THRESHOLD` bits per character (4.0; a
   random 20-character base64 string scores about 4.1, English words about 2.5 to 3.5).
6. **PII** (opt-in, ``pii=True``): e-mail addresses, phone numbers (international ``+CC …`` or North-American
   ``(555) 123-4567`` forms), IBANs (mod-97 checked) and payment-card numbers (13-19 digits, Luhn checked).

Cost (the marker pre-scan): a rule whose regex starts with a literal (``ya29.``, ``AKIA``...) runs as it is,
because Python's regex engine finds a literal prefix as fast as a substring test. A rule whose regex starts
otherwise (an alternation, a class, a look-behind) carries **markers**, substrings one of which any match must
contain, and runs only on text holding one (lower-case markers are tested on the lower-cased text, markers with
an upper-case letter on the text as it is). Case-insensitive rules are written in lower case and run on the
lower-cased text, which is several times faster than ``re.IGNORECASE``. (A combined alternation of all markers
was measured slower than the separate tests on long text: Python's ``re`` has no multi-string search. On text of
at most 400 characters it is the faster gate, and :class:`agentracer.recording.redact._Engine` uses it there.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ENTROPY_THRESHOLD", "Rule", "default_rules", "entropy_rule", "pii_rules", "shannon_entropy"]

ENTROPY_THRESHOLD = 4.0


@dataclass(frozen=True)
class Rule:
    """One detector.

    ``regex`` finds it; ``group`` is the secret (0 = the whole match); ``lower``: the regex is written for the
    lower-cased text (lower-case literals, case-sensitive, which is several times faster than ``(?i)``);
    ``bound``: a match right after a letter or digit is not one (``\b`` without slowing the literal-prefix
    search); ``markers`` gate slow regexes (see the module docstring); ``check`` is a test the secret must pass
    (Luhn, mod-97, entropy, looks-like-a-token); ``kind`` names it in the per-kind figures; ``replacement`` is a
    template used instead of the mask (``add_pattern``).
    """

    kind: str
    regex: re.Pattern[str]
    group: int = 0
    markers: tuple[str, ...] = ()
    check: Callable[[str], bool] | None = None
    lower: bool = False
    bound: bool = False
    replacement: str | None = None


def _r(kind: str, pattern: str, group: int = 0, check: Callable[[str], bool] | None = None, *,
       lower: bool = False, bound: bool = True, markers: tuple[str, ...] = ()) -> Rule:
    return Rule(kind, re.compile(pattern), group, markers, check, lower, bound)


def _mixed(v: str) -> bool:
    """An ``Authorization`` value that looks like a token: digits, or both cases (not a plain word)."""
    return any(c.isdigit() for c in v) or (any(c.isupper() for c in v) and any(c.islower() for c in v))


_HEXISH = re.compile(r"[0-9a-fA-F\-]+")


def _tokenish(v: str) -> bool:
    """A value of a generic ``*_key``/``*_token`` name that looks like a credential, not a word, a number or
    an id: hex strings and UUIDs (``cache_key``, ``llm_key``: hashes) are left alone; the names that always
    hold credentials (``api_key``, ``access_token``...) are the other keyword rule's, which masks those too."""
    return (len(v) >= 12 and ":" not in v and not _HEXISH.fullmatch(v)
            and (any(c.isdigit() for c in v) or len(v) >= 20))


def _bare(v: str) -> bool:
    """A value of a bare ``key``/``token`` name: like :func:`_tokenish`, hex strings and UUIDs included."""
    return len(v) >= 12 and ":" not in v and not v.isdigit() and (any(c.isdigit() for c in v) or len(v) >= 20)


def _strong(v: str) -> bool:
    """A value of an ``api_key``/``access_token``-like name: anything but a number or a short word."""
    return len(v) >= 8 and not v.isdigit()


# 1. blocks, headers and URLs (rules of the project, kept)
_BLOCKS = [
    _r("private-key", r"-----begin [a-z0-9 ]*private key(?: block)?-----[\s\S]*?(?:-----end [a-z0-9 ]*private key(?: block)?-----|$)",
       lower=True, bound=False),
    _r("authorization", r"(?:bearer|basic)\s+([a-z0-9._~+/=\-]{12,})", 1, _mixed, lower=True, markers=("bearer", "basic")),
    _r("url-password", r"://[^\s:/@\"'<>]+:([^\s@/\"'<>]+)@", 1, bound=False),
]

# 3. documented formats (gitleaks rules) that detect-secrets does not cover, or covers too narrowly
_GITLEAKS = [
    _r("google-oauth", r"ya29\.[0-9A-Za-z_\-]{20,}"),
    _r("google-api-key", r"AIza[0-9A-Za-z_\-]{35}"),
    _r("mailgun", r"key-[0-9a-zA-Z]{32}(?![0-9a-zA-Z])", bound=False),
    _r("stripe", r"[rs]k_(?:live|test)_[0-9a-zA-Z]{10,99}", markers=("k_live_", "k_test_")),
    _r("npm", r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    _r("azure-storage", r"accountkey\s*=\s*([a-z0-9+/]{40,}={0,2})", 1, lower=True),
    _r("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{20,}", bound=False),
    _r("slack-token", r"xox[abeoprs]-[A-Za-z0-9\-]{10,}"),
    _r("twilio", r"SK[0-9a-fA-F]{32}(?![0-9a-zA-Z])"),
    _r("sendgrid", r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}"),
    _r("openai-anthropic", r"sk-(?:proj-|ant-|or-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"),
    _r("github", r"gh[pousr]_[A-Za-z0-9]{30,}"),
    _r("github-fine-grained", r"github_pat_[A-Za-z0-9_]{40,}"),
    _r("huggingface", r"hf_[A-Za-z0-9]{30,}"),
    _r("gitlab", r"gl(?:pat|dt|ft|rt|soat|cbt|imt|ptt|oas)-[A-Za-z0-9_\-]{20,}"),
    _r("aws-access-key", r"A(?:3T[A-Z0-9]|BIA|CCA|KIA|SIA)[0-9A-Z]{16}(?![0-9A-Za-z])",
       markers=("A3T", "ABIA", "ACCA", "AKIA", "ASIA")),
    _r("digitalocean", r"do[opr]_v1_[a-f0-9]{64}"),
    _r("shopify", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"),
    _r("databricks", r"dapi[a-h0-9]{32}(?:-\d)?"),
    _r("postman", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
    _r("linear", r"lin_api_[A-Za-z0-9]{40}"),
    _r("doppler", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}"),
    _r("pulumi", r"pul-[a-f0-9]{40}"),
    _r("newrelic", r"NR(?:AK|II|JS)-[A-Za-z0-9]{19,27}"),
    _r("grafana-cloud", r"glc_[A-Za-z0-9+/]{32,400}={0,2}"),
    _r("grafana-service-account", r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    _r("vault", r"hv[sb]\.[A-Za-z0-9_\-]{24,}"),
    _r("groq", r"gsk_[A-Za-z0-9]{48,52}"),
    _r("replicate", r"r8_[A-Za-z0-9]{37}"),
    _r("age", r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
    _r("jwt", r"eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-+/=]*"),
    _r("mapbox", r"sk\.eyJ[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,}"),
    _r("slack-app-token", r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"),
    _r("stripe-webhook", r"whsec_[A-Za-z0-9]{32,}"),
    _r("atlassian", r"ATATT3[A-Za-z0-9_\-=]{150,}"),
    _r("azure-ad-client-secret", r"[a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.\-]{31,34}", markers=("Q~",)),
    _r("notion", r"ntn_[0-9]{11}[A-Za-z0-9]{35}"),
    _r("notion-legacy", r"secret_[A-Za-z0-9]{43}"),
    _r("perplexity", r"pplx-[A-Za-z0-9]{48}"),
    _r("xai", r"xai-[A-Za-z0-9]{70,90}"),
    _r("airtable", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}"),
    _r("supabase", r"sbp_[a-f0-9]{40}"),
    _r("sentry", r"sntry[su]_[A-Za-z0-9+/=_]{40,}"),
    _r("figma", r"figd_[A-Za-z0-9_\-]{40}"),
    _r("flyio", r"fo1_[A-Za-z0-9_\-]{43}"),
    _r("planetscale", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.=]{32,64}"),
    _r("netlify", r"nfp_[A-Za-z0-9]{36}"),
    _r("tailscale", r"tskey-[a-z]+-[A-Za-z0-9]+-[A-Za-z0-9]{16,}"),
    _r("1password", r"ops_eyJ[A-Za-z0-9+/=]{100,}"),
    _r("terraform", r"[a-z0-9]{14}\.atlasv1\.[a-z0-9\-_=]{60,70}", markers=(".atlasv1.",)),
    _r("contentful", r"CFPAT-[A-Za-z0-9_\-]{43}"),
    _r("facebook", r"EAA[MC][A-Za-z0-9]{100,}"),
    _r("duffel", r"duffel_(?:test|live)_[A-Za-z0-9_\-=]{43}"),
    _r("dynatrace", r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}"),
    _r("easypost", r"EZ[AT]K[A-Za-z0-9]{54}"),
    _r("prefect", r"pnu_[A-Za-z0-9]{36}"),
    _r("readme", r"rdme_[a-z0-9]{70}"),
    _r("rubygems", r"rubygems_[a-f0-9]{48}"),
    _r("sendinblue", r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    _r("shippo", r"shippo_(?:live|test)_[a-f0-9]{40}"),
    _r("alibaba", r"LTAI[A-Za-z0-9]{20}"),
    _r("heroku", r"HRKU-[A-Za-z0-9_\-]{40,}"),
    _r("discord-webhook", r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]{60,}",
       bound=False, markers=("discord",)),
    _r("twitter-bearer", r"A{22}[A-Za-z0-9%]{60,}", markers=("AAAAAAAAAAAAAAAAAAAAAA",)),
]

# 4. keyword assignments: NAME sep VALUE in env / YAML / JSON (also JSON-escaped) / ini / code; on lower-case text
_SEP = r"(?:\\?[\"'])?\]?[ \t]*(?::=|=>|[:=])[ \t]*(?:\\?[\"'])?(?!\[redacted\])"
_VALUE = r"([^\s\"'\\,;`<>(){}\[\]]{6,})"
_KEYWORDS = [
    _r("keyword-secret", r"(?:secret|passw(?:or)?d|pwd|credential)[a-z0-9_.\-]*" + _SEP + _VALUE, 1, lambda v: not v.isdigit(),
       lower=True, bound=False, markers=("secret", "passw", "pwd", "credential")),
    _r("keyword-api-key", r"(?:api|access|auth|private|session|refresh|bearer|account|client|master|signing|encryption)"
       r"[_\- ]?(?:key|token)(?![a-z0-9])" + _SEP + _VALUE, 1, _strong, lower=True, markers=("key", "token")),
    # a bare ``key``/``token`` name: hex values too (``token: <md5>``), but not ``key=len`` or ``key=counts.get``
    _r("keyword-bare", r"(?<![a-z0-9_.\-])(?:key|token)(?![a-z0-9])" + _SEP + _VALUE, 1, _bare, lower=True, bound=False,
       markers=("key", "token")),
    _r("keyword-key-token", r"(?:key|token)(?![a-z0-9])" + _SEP + _VALUE, 1, _tokenish, lower=True, markers=("key", "token")),
]

_DS_SKIP = {"IPPublicDetector", "KeywordDetector", "PrivateKeyDetector"}
# markers of detect-secrets' plugins whose regexes do not start with a literal (which Python's regex engine
# finds as fast as a substring test); a plugin not named here runs on every text
_DS_MARKERS: dict[str, tuple[str, ...]] = {
    "ArtifactoryDetector": ("AKC", "AP"),
    "AWSKeyDetector": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws"),
    "GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLabTokenDetector": ("gl", "GR1348941"),
    "StripeDetector": ("k_live_",),
    # keyword-style regexes (a look-behind first): they need a key/password/token name, the same words the
    # keyword rules test, so the test is shared
    "CloudantDetector": ("key", "pw", "pass", "token", ".cloudant.com"),
    "IbmCloudIamDetector": ("key", "pwd", "pass", "token"),
    "IbmCosHmacDetector": ("secret",),
    "MailchimpDetector": ("-us",),
    "SoftlayerDetector": ("key", "pwd", "pass", "token", "api.softlayer.com"),
    # bot tokens are ``<digits>:A<34 more>`` (gitleaks' rule); detect-secrets' regex is looser
    "TelegramBotTokenDetector": (":A",),
    "DiscordBotTokenDetector": (".",),  # <id>.<timestamp>.<hmac>
    # ``//.+/:_authToken=``: gated by its literal prefix ``//`` alone, ``.+`` made it quadratic on long text with
    # ``//`` and no newline (URLs, base64: 28 s for 5 MB of prose); every match holds the key name
    "NpmDetector": ("_authToken",),
}


def detect_secrets_rules() -> list[Rule]:
    """A rule per regex of every regex-based plugin of the installed ``detect-secrets`` (empty when absent)."""
    try:
        import importlib
        import pkgutil

        import detect_secrets.plugins as plugins
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError:  # pragma: no cover - detect-secrets is a core dependency
        return []
    out: list[Rule] = []
    for info in sorted(pkgutil.iter_modules(plugins.__path__), key=lambda m: m.name):
        try:
            mod = importlib.import_module(f"detect_secrets.plugins.{info.name}")
        except Exception:  # noqa: BLE001 - a broken plugin must not disable the others
            continue
        for name, cls in sorted(vars(mod).items()):
            if (not isinstance(cls, type) or not issubclass(cls, RegexBasedDetector) or cls is RegexBasedDetector
                    or cls.__module__ != mod.__name__ or name in _DS_SKIP):
                continue
            for rx in getattr(cls, "denylist", ()):
                out.append(Rule(f"detect-secrets:{name}", rx, 1 if rx.groups else 0, _DS_MARKERS.get(name, ())))
    return out


def default_rules() -> list[Rule]:
    """Every secret rule that runs by default, in order (see the module docstring)."""
    return [*_BLOCKS, *detect_secrets_rules(), *_GITLEAKS, *_KEYWORDS]


def shannon_entropy(s: str) -> float:
    """Shannon entropy of ``s`` in bits per character."""
    n = len(s)
    if not n:
        return 0.0
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _high_entropy(s: str) -> bool:
    return (any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
            and shannon_entropy(s) >= ENTROPY_THRESHOLD)


def entropy_rule() -> Rule:
    """The opt-in high-entropy rule (threshold :data:`ENTROPY_THRESHOLD`)."""
    return Rule("high-entropy", re.compile(r"[A-Za-z0-9+/_\-]{20,}={0,2}"), 0, (), _high_entropy, bound=True)


def _luhn(s: str) -> bool:
    digits = [int(c) for c in s if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total % 10 == 0


def _iban(s: str) -> bool:
    s = s.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    num = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(num) % 97 == 1


def pii_rules() -> list[Rule]:
    """The opt-in PII rules: e-mail, IBAN (mod-97), payment card (Luhn), phone number."""
    return [
        _r("email", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", markers=("@",)),
        _r("iban", r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])", 0, _iban),
        _r("card", r"\d(?:[ \-]?\d){12,18}(?![\d])", 0, _luhn),
        _r("phone", r"(?:\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,4}){2,4}"
                    r"|\(\d{3}\) ?\d{3}[ .\-]\d{4}|\d{3}[.\-]\d{3}[.\-]\d{4})(?![\w])"),
    ]
