"""A generated credential corpus (never real secrets) and a negative corpus, for the redaction tests and bench.

:func:`credentials` builds credentials of 57 kinds from the detectors' documented formats (prefixes, lengths,
alphabets of detect-secrets' plugins and gitleaks' rules) with a seeded RNG; :func:`samples` embeds each one
in prose, JSON, YAML, an env file, an HTTP header, a URL and code. :func:`negatives` gives text that holds no
secret: UUIDs, git SHAs, base64 images, hashes in code, and ordinary config and prose.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CONTEXTS", "Sample", "credentials", "negatives", "samples"]

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _pem(rng: random.Random) -> str:
    body = base64.b64encode(rng.randbytes(300)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
    return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n-----END {kind}PRIVATE KEY-----"


def _jwt(rng: random.Random) -> str:
    def part(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    head = part({"alg": "HS256", "typ": "JWT"})
    body = part({"sub": str(rng.randrange(10**9)), "name": _s(rng, string.ascii_letters, 8), "iat": rng.randrange(10**9)})
    return f"{head}.{body}.{_s(rng, URLSAFE, 43)}"


def _basic(rng: random.Random) -> str:
    return base64.b64encode(f"{_s(rng, string.ascii_lowercase, 6)}:{_s(rng, ALNUM, 14)}".encode()).decode()


# kind -> (generator, the variable name used where a context names it, needs a name to be recognisable)
KINDS: dict[str, tuple[Callable[[random.Random], str], str, bool]] = {
    "aws-access-key": (lambda r: "AKIA" + _s(r, UPPER_ALNUM, 16), "AWS_ACCESS_KEY_ID", False),
    "aws-secret-key": (lambda r: _s(r, B64, 40), "aws_secret_access_key", True),
    "github-pat": (lambda r: "ghp_" + _s(r, ALNUM, 36), "GITHUB_TOKEN", False),
    "github-fine-grained": (lambda r: "github_pat_" + _s(r, ALNUM, 22) + "_" + _s(r, ALNUM, 59), "GH_PAT", False),
    "gitlab-pat": (lambda r: "glpat-" + _s(r, URLSAFE, 20), "GITLAB_TOKEN", False),
    "slack-bot-token": (lambda r: f"xoxb-{r.randrange(10**11, 10**12)}-{r.randrange(10**12, 10**13)}-{_s(r, ALNUM, 24)}",
                        "SLACK_BOT_TOKEN", False),
    "slack-webhook": (lambda r: f"https://hooks.slack.com/services/T{_s(r, UPPER_ALNUM, 8)}/B{_s(r, UPPER_ALNUM, 10)}/"
                      f"{_s(r, ALNUM, 24)}", "SLACK_WEBHOOK_URL", False),
    "stripe-secret": (lambda r: "sk_live_" + _s(r, ALNUM, 24), "STRIPE_SECRET_KEY", False),
    "stripe-restricted": (lambda r: "rk_live_" + _s(r, ALNUM, 99), "STRIPE_RESTRICTED_KEY", False),
    "google-api-key": (lambda r: "AIza" + _s(r, URLSAFE, 35), "GOOGLE_API_KEY", False),
    "google-oauth": (lambda r: "ya29." + _s(r, URLSAFE, 120), "GOOGLE_ACCESS_TOKEN", False),
    "openai": (lambda r: "sk-proj-" + _s(r, URLSAFE, 74) + "T3BlbkFJ" + _s(r, URLSAFE, 74), "OPENAI_API_KEY", False),
    "anthropic": (lambda r: "sk-ant-api03-" + _s(r, URLSAFE, 93) + "AA", "ANTHROPIC_API_KEY", False),
    "huggingface": (lambda r: "hf_" + _s(r, string.ascii_letters, 34), "HF_TOKEN", False),
    "jwt": (_jwt, "SESSION_JWT", False),
    "sendgrid": (lambda r: "SG." + _s(r, URLSAFE, 22) + "." + _s(r, URLSAFE, 43), "SENDGRID_API_KEY", False),
    "twilio-api-key": (lambda r: "SK" + _s(r, HEX, 32), "TWILIO_API_KEY", False),
    "mailgun": (lambda r: "key-" + _s(r, LOWER_ALNUM, 32), "MAILGUN_API_KEY", False),
    "npm": (lambda r: "npm_" + _s(r, ALNUM, 36), "NPM_TOKEN", False),
    "pypi": (lambda r: "pypi-AgEIcHlwaS5vcmc" + _s(r, URLSAFE, 150), "PYPI_TOKEN", False),
    "azure-storage": (lambda r: base64.b64encode(r.randbytes(64)).decode(), "AccountKey", True),
    "discord-bot": (lambda r: r.choice("MNO") + _s(r, ALNUM, 23) + "." + _s(r, URLSAFE, 6) + "." + _s(r, URLSAFE, 27),
                    "DISCORD_BOT_TOKEN", False),
    "telegram-bot": (lambda r: f"{r.randrange(10**8, 10**10)}:AA{_s(r, URLSAFE, 33)}", "TELEGRAM_BOT_TOKEN", False),
    "mailchimp": (lambda r: _s(r, HEX, 32) + f"-us{r.randrange(1, 21)}", "MAILCHIMP_API_KEY", False),
    "square-oauth": (lambda r: "sq0csp-" + _s(r, URLSAFE, 43), "SQUARE_SECRET", False),
    "digitalocean": (lambda r: "dop_v1_" + _s(r, HEX, 64), "DIGITALOCEAN_TOKEN", False),
    "shopify": (lambda r: "shpat_" + _s(r, HEX, 32), "SHOPIFY_ACCESS_TOKEN", False),
    "databricks": (lambda r: "dapi" + _s(r, "abcdefgh0123456789", 32), "DATABRICKS_TOKEN", False),
    "postman": (lambda r: f"PMAK-{_s(r, HEX, 24)}-{_s(r, HEX, 34)}", "POSTMAN_API_KEY", False),
    "linear": (lambda r: "lin_api_" + _s(r, ALNUM, 40), "LINEAR_API_KEY", False),
    "pulumi": (lambda r: "pul-" + _s(r, HEX, 40), "PULUMI_ACCESS_TOKEN", False),
    "newrelic": (lambda r: "NRAK-" + _s(r, UPPER_ALNUM, 27), "NEW_RELIC_API_KEY", False),
    "grafana-service-account": (lambda r: f"glsa_{_s(r, ALNUM, 32)}_{_s(r, HEX, 8)}", "GRAFANA_TOKEN", False),
    "vault": (lambda r: "hvs." + _s(r, URLSAFE, 90), "VAULT_TOKEN", False),
    "groq": (lambda r: "gsk_" + _s(r, ALNUM, 52), "GROQ_API_KEY", False),
    "replicate": (lambda r: "r8_" + _s(r, ALNUM, 37), "REPLICATE_API_TOKEN", False),
    "age": (lambda r: "AGE-SECRET-KEY-1" + _s(r, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".upper(), 58), "AGE_KEY", False),
    "artifactory": (lambda r: "AKC" + _s(r, ALNUM, 70), "ARTIFACTORY_API_KEY", False),
    "slack-app-token": (lambda r: f"xapp-1-A{_s(r, UPPER_ALNUM, 10)}-{r.randrange(10**12, 10**13)}-{_s(r, HEX, 64)}",
                        "SLACK_APP_TOKEN", False),
    "stripe-webhook": (lambda r: "whsec_" + _s(r, ALNUM, 32), "STRIPE_WEBHOOK_SECRET", False),
    "atlassian": (lambda r: "ATATT3xFfGF0" + _s(r, URLSAFE, 170) + "=" + _s(r, HEX, 8).upper(), "JIRA_API_TOKEN", False),
    "azure-ad-client-secret": (lambda r: _s(r, ALNUM, 3) + str(r.randrange(10)) + "Q~" + _s(r, ALNUM + "_~.-", 34),
                               "AZURE_CLIENT_SECRET", False),
    "notion": (lambda r: "ntn_" + "".join(r.choice(string.digits) for _ in range(11)) + _s(r, ALNUM, 35), "NOTION_TOKEN", False),
    "perplexity": (lambda r: "pplx-" + _s(r, ALNUM, 48), "PPLX_API_KEY", False),
    "xai": (lambda r: "xai-" + _s(r, ALNUM, 80), "XAI_API_KEY", False),
    "supabase": (lambda r: "sbp_" + _s(r, HEX, 40), "SUPABASE_ACCESS_TOKEN", False),
    "sentry": (lambda r: "sntryu_" + _s(r, HEX, 64), "SENTRY_AUTH_TOKEN", False),
    "tailscale": (lambda r: f"tskey-auth-k{_s(r, ALNUM, 10)}CNTRL-{_s(r, ALNUM, 30)}", "TS_AUTHKEY", False),
    "facebook": (lambda r: "EAAC" + _s(r, ALNUM, 160), "FB_ACCESS_TOKEN", False),
    "mapbox": (lambda r: "sk.eyJ1Ijoi" + _s(r, URLSAFE, 50) + "." + _s(r, URLSAFE, 22), "MAPBOX_SECRET_TOKEN", False),
    "pem-private-key": (_pem, "PRIVATE_KEY", False),
    "basic-auth": (_basic, "BASIC_AUTH", False),
    "db-url-password": (lambda r: _s(r, ALNUM + "!*~", 18), "DATABASE_URL", True),
    "generic-password": (lambda r: _s(r, ALNUM + "!#%^*~", 16), "DB_PASSWORD", True),
    "generic-api-key": (lambda r: _s(r, ALNUM, 32), "PAYMENT_API_KEY", True),
    "generic-token": (lambda r: _s(r, URLSAFE, 40), "SERVICE_AUTH_TOKEN", True),
    "client-secret": (lambda r: _s(r, ALNUM + "~.-_", 34), "oauth_client_secret", True),
}

CONTEXTS = ("prose", "json", "yaml", "env", "header", "url", "code")


@dataclass(frozen=True)
class Sample:
    """One credential in one context: ``text`` holds it, ``needles`` are the parts that must never be output."""

    kind: str
    context: str
    text: str
    needles: tuple[str, ...]


def credentials(per_kind: int = 8, seed: int = 18) -> list[tuple[str, str]]:
    """``(kind, credential)`` pairs: ``per_kind`` of each kind (57 kinds x 8 = 456 by default)."""
    rng = random.Random(seed)
    return [(k, gen(rng)) for k, (gen, _, _) in KINDS.items() for _ in range(per_kind)]


def _embed(kind: str, value: str, ctx: str, rng: random.Random) -> str:
    _, name, _ = KINDS[kind]
    if kind == "db-url-password":
        url = f"postgres://app_user:{value}@db-{rng.randrange(9)}.internal:5432/orders"
        return {"prose": f"The worker connects with {url} every morning.", "json": json.dumps({"dsn": url}),
                "yaml": f"database:\n  url: {url}\n", "env": f"{name}={url}", "header": f"X-Upstream: {url}",
                "url": url, "code": f'engine = create_engine("{url}")'}[ctx]
    if kind == "azure-storage":
        conn = f"DefaultEndpointsProtocol=https;AccountName=acct{rng.randrange(99)};AccountKey={value};EndpointSuffix=core.windows.net"
        return {"prose": f"Use the connection string {conn} for the blob store.", "json": json.dumps({"storage": conn}),
                "yaml": f"storage:\n  connection_string: \"{conn}\"\n", "env": f"AZURE_STORAGE_CONNECTION_STRING={conn}",
                "header": f"X-Storage: {conn}", "url": f"https://portal.example.com/#conn={conn}",
                "code": f'client = BlobServiceClient.from_connection_string("{conn}")'}[ctx]
    if kind == "basic-auth":
        return {"prose": f"The request carried Authorization: Basic {value} and was accepted.",
                "json": json.dumps({"headers": {"Authorization": f"Basic {value}"}}),
                "yaml": f"headers:\n  Authorization: Basic {value}\n", "env": f"{name}=\"Basic {value}\"",
                "header": f"Authorization: Basic {value}", "url": f"curl -H 'Authorization: Basic {value}' https://api.example.com",
                "code": f'requests.get(url, headers={{"Authorization": "Basic {value}"}})'}[ctx]
    named = KINDS[kind][2]
    prose = (f"The {name.lower().replace('_', ' ')}: {value} was pasted into the chat." if named
             else f"I pasted {value} into the config and the call succeeded.")
    return {
        "prose": prose,
        "json": json.dumps({"service": "billing", name: value, "retries": 3}),
        "yaml": f"service: billing\ncredentials:\n  {name}: {value}\n",
        "env": f"LOG_LEVEL=info\n{name}={value}\n",
        "header": f"X-{name.title().replace('_', '-')}: {value}" if named else f"Authorization: Bearer {value}",
        "url": f"https://api.example.com/v1/items?{name.lower()}={value}&limit=5",
        "code": f'client = Client({name.lower()}="{value}", timeout=30)',
    }[ctx]


def _needles(kind: str, value: str) -> tuple[str, ...]:
    if kind == "pem-private-key":
        return tuple(line for line in value.splitlines()[1:-1] if len(line) >= 16)
    return (value,)


def samples(per_kind: int = 8, seed: int = 18, contexts: tuple[str, ...] = CONTEXTS) -> list[Sample]:
    """Every credential of :func:`credentials` in every context (PEM keys: not in headers or URLs)."""
    rng = random.Random(seed + 1)
    out = []
    for kind, value in credentials(per_kind, seed):
        for ctx in contexts:
            if kind == "pem-private-key" and ctx in ("header", "url"):
                continue
            out.append(Sample(kind, ctx, _embed(kind, value, ctx, rng), _needles(kind, value)))
    return out


def negatives(n: int = 200, seed: int = 7) -> list[str]:
    """Text with no secret: UUIDs, git SHAs, base64 images, hashes in code, ordinary config and prose."""
    rng = random.Random(seed)
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + rng.randbytes(600)).decode()
    out = []
    for i in range(n):
        sha = hashlib.sha1(str(i).encode()).hexdigest()
        out += [
            f"request {uuid.UUID(int=rng.getrandbits(128), version=4)} finished in {rng.randrange(900)} ms",
            f"commit {sha} (HEAD -> main) fixed the parser; see {sha[:7]}",
            f'<img src="data:image/png;base64,{png[: 200 + i]}">',
            f'assert hashlib.sha256(data).hexdigest() == "{hashlib.sha256(str(i).encode()).hexdigest()}"',
            f"etag: W/\"{hashlib.md5(str(i).encode()).hexdigest()}\"",
            f"max_tokens: {rng.randrange(64, 4096)}\ntemperature: 0.{rng.randrange(10)}\nsort_key: created_at",
            json.dumps({"primary_key": "id", "token_count": rng.randrange(999), "cache_key": f"user:{i}"}),
            f"The monkey found {i} bananas; the key insight is that the token budget was too small.",
        ]
    return out
