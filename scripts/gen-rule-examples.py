#!/usr/bin/python3
"""Writes the rule pack's vendor rule files (rules/<family>.json) with their
examples. Run from the repository root: /usr/bin/python3 scripts/gen-rule-examples.py

Why a generator: many true-positive examples must pass checksum validators
(GitHub/npm CRC32-base62, Grafana and Atlassian CRC32-hex, PyPI macaroon
headers, PEM DER structure), so they are computed here, from a fixed seed, with
Python's own zlib/base64 (an implementation independent of scanner/validate.c).
Every example token is a fake fixture made of random characters: none was
ever issued by a vendor. The output is deterministic; rules/bastionary.json is
not touched. Edit the rule data here, re-run, and commit both.
"""
import base64
import json
import os
import random
import sys
import zlib

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64URL = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UPPER_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

rng = random.Random(20261127)


def reseed(family_name):
    """Each family draws from its own seed, so editing one family's rules
    leaves every other family's fixtures unchanged."""
    global rng
    rng = random.Random("bstscan-rules-2026:" + family_name)


def rand(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def b62(n, width):
    s = ""
    while n:
        n, r = divmod(n, 62)
        s = B62[r] + s
    return s.rjust(width, "0")


def gh_token(prefix):
    body = rand(ALNUM, 30)
    return prefix + body + b62(zlib.crc32(body.encode()), 6)


def bad_checksum(tok):
    last = tok[-1]
    return tok[:-1] + ("A" if last != "A" else "B")


def grafana_sa():
    key = "glsa_" + rand(ALNUM, 32)
    return key + "_" + zlib.crc32(key.encode()).to_bytes(4, "little").hex()


def atlassian():
    data = "ATATT3xFfGF0" + rand(B64URL, 170) + "="
    return data + "%08X" % zlib.crc32(data.encode())


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(t, data):
    return bytes([t]) + varint(len(data)) + data


def pypi(location=b"pypi.org", caveats=1):
    ident = ('{"nonce": "%s", "version": 1}' % rand(HEX, 32)).encode()
    m = bytes([2]) + field(1, location) + field(2, ident) + b"\0"
    for i in range(caveats):
        m += field(2, ('{"version": 1, "permissions": {"projects": ["fixture-%d"]}}' % i).encode()) + b"\0"
    m += b"\0" + field(6, rng.randbytes(32))
    return "pypi-" + base64.urlsafe_b64encode(m).decode().rstrip("=")


def pem(label, nbytes, openssh=False, escape=None):
    if openssh:
        der = b"openssh-key-v1\0" + rng.randbytes(nbytes)
    else:
        content = rng.randbytes(nbytes)
        der = b"\x30\x82" + len(content).to_bytes(2, "big") + content
    b = base64.b64encode(der).decode()
    lines = [b[i:i + (70 if openssh else 64)] for i in range(0, len(b), 70 if openssh else 64)]
    nl = escape or "\n"
    return "-----BEGIN %s-----%s%s%s-----END %s-----" % (label, nl, nl.join(lines), nl, label)


def crc24(data):
    crc = 0xB704CE
    for b in data:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def pgp(nbytes, checksum=True, header=True, tag=0xC5, bad_sum=False):
    body = rng.randbytes(nbytes)
    data = bytes([tag, 0xC0 + ((nbytes - 192) >> 8), (nbytes - 192) & 0xFF]) + body
    b = base64.b64encode(data).decode()
    out = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n"
    if header:
        out += "Comment: bstscan test fixture\n"
    out += "\n" + "\n".join(b[i:i + 64] for i in range(0, len(b), 64)) + "\n"
    if checksum:
        crc = crc24(data) ^ (1 if bad_sum else 0)
        out += "=" + base64.b64encode(crc.to_bytes(3, "big")).decode() + "\n"
    return out + "-----END PGP PRIVATE KEY BLOCK-----"


def glc():
    payload = '{"o":"%d","n":"fixture-stack-%s","k":"%s","m":{"r":"prod-us-east-0"}}' % (
        rng.randrange(100000, 999999), rand(HEX, 6), rand(ALNUM, 24))
    return "glc_" + base64.b64encode(payload.encode()).decode()


def sentry_org():
    payload = '{"iat":%d.0,"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"fixture"}' % (
        rng.randrange(1700000000, 1800000000))
    return "sntrys_" + base64.b64encode(payload.encode()).decode().rstrip("=") + "_" + rand(B64, 43)


def NP(offset=0, **kw):
    v = {"type": "not_placeholder"}
    if offset:
        v["offset"] = offset
    v.update(kw)
    return v


def ENT(bits, offset=0):
    v = {"type": "entropy_min", "bits": bits}
    if offset:
        v["offset"] = offset
    return v


HEXNP = {"max_run": 7, "max_sequence": 7}
MIXED = {"type": "char_classes", "min_upper": 1, "min_lower": 1}

# Word boundaries: W for tokens whose alphabet is [A-Za-z0-9_], U for base64url ones.
LB_W, LA_W = "(?<![A-Za-z0-9_])", "(?![A-Za-z0-9_])"
LB_U, LA_U = "(?<![A-Za-z0-9_-])", "(?![A-Za-z0-9_-])"


def rule(id, family, description, regex, keywords, severity, max_length, validators=None, tp=(), fp=(),
         secret_group=1, nocase=False):
    r = {"id": id, "family": family, "description": description, "regex": regex, "keywords": list(keywords)}
    if nocase:
        r["keywords_nocase"] = True
    r.update({"secret_group": secret_group, "severity": severity, "max_length": max_length})
    if validators:
        r["validators"] = validators
    r["examples"] = {"tp": list(tp), "fp": list(fp)}
    return r


FILES = {}


def family(name, *rules):
    FILES[name] = list(rules)


# ---------------------------------------------------------------- GitHub
reseed("github")
ghp, gho, ghs = gh_token("ghp_"), gh_token("gho_"), gh_token("ghs_")
ghu, ghr = gh_token("ghu_"), gh_token("ghr_")
fg = "github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59)
family("github",
    rule("github-classic-token", "github",
         "GitHub classic token (ghp_ personal, gho_ OAuth, ghu_ user-to-server, ghs_ server-to-server, ghr_ refresh): "
         "prefix + 30 random base62 characters + their CRC32 in 6 base62 characters (GitHub's 2021 token format post).",
         LB_W + "(gh[pousr]_[A-Za-z0-9]{36})" + LA_W,
         ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], "critical", 40,
         [{"type": "crc32_base62", "data_offset": 4, "checksum_length": 6}],
         tp=["GITHUB_TOKEN=" + ghp, 'git clone https://x-access-token:%s@github.com/o/r.git' % ghs,
             "oauth: " + gho, '{"token": "%s", "refresh": "%s"}' % (ghu, ghr)],
         fp=["GITHUB_TOKEN=" + bad_checksum(ghp),
             "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
             "token: " + ghp[:-1],
             "token: " + ghp + "Z",
             "aghp_" + ghp[4:],
             "ghx_" + ghp[4:]]),
    rule("github-fine-grained-pat", "github",
         "GitHub fine-grained personal access token: github_pat_ + 22 + '_' + 59 base62 characters. GitHub does not "
         "document a checksum for this format, so only structure and randomness are checked.",
         LB_W + "(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + LA_W,
         ["github_pat_"], "critical", 93,
         [NP(11), ENT(4.0, 11), MIXED],
         tp=["export GH_TOKEN=" + fg, "password = '%s'" % ("github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59))],
         fp=["github_pat_" + "x" * 22 + "_" + "x" * 59,
             "github_pat_" + "A" * 22 + "_" + "B" * 59,
             fg[:-1],
             fg + "Q",
             "my_github_pat_" + fg[11:],
             "github_pat_11ABCDEFG0123456789_EXAMPLEexampleEXAMPLEexampleEXAMPLEexampleEXAMPLEexampleEXAMPLE1"]),
)

# ---------------------------------------------------------------- GitLab
reseed("gitlab")
glpat = "glpat-" + rand(B64URL, 20)
glpat_r = "glpat-" + rand(B64URL, 38) + ".01." + rand("0123456789abcdefghijklmnopqrstuvwxyz", 9)
glpat_r2 = "glpat-" + rand(B64URL, 27) + "." + rand("0123456789abcdefghijklmnopqrstuvwxyz", 9)
family("gitlab",
    rule("gitlab-pat", "gitlab",
         "GitLab personal, project or group access token: glpat- + 20 base64url characters (legacy), or the routable "
         "format glpat-<base64url payload>.<2-char version>[.<2-char length>]<7-char CRC> (GitLab's routable-token "
         "design). The routable CRC's exact input is not documented, so it is not verified.",
         LB_U + r"(glpat-(?:[A-Za-z0-9_-]{27,300}\.[0-9a-z]{2}(?:\.[0-9a-z]{2})?[0-9a-z]{7}|[A-Za-z0-9_-]{20}))" + LA_U,
         ["glpat-"], "critical", 320,
         [NP(6), ENT(3.0, 6)],
         tp=["GITLAB_TOKEN=" + glpat, "private_token: " + glpat_r, "token=" + glpat_r2],
         fp=["glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-" + glpat[6:25], "glpat-" + glpat[6:] + "abc",
             "myglpat-" + glpat[6:], "glpat-<your-token-here>", "glpat-EXAMPLEexample1234"]),
    rule("gitlab-token", "gitlab",
         "Other GitLab tokens: deploy (gldt-), runner authentication (glrt-, routable glrt-t1_...), feed (glft-), "
         "incoming mail (glimt-), SCIM (glsoat-), feature-flags client (glffct-), OAuth application secret (gloas-), "
         "CI job (glcbt-), agent (glagent-), workspace (glwt-), pipeline trigger (glptt- + 40 hex) and legacy runner "
         "registration tokens (GR1348941 + 20). Lengths differ by type and are not all documented: 20 to 300 "
         "base64url characters are accepted.",
         LB_U + r"((?:(?:gldt|glrt|glrtr|glft|glimt|glsoat|glffct|gloas|glcbt|glagent|glwt)-[A-Za-z0-9_-]{20,300}"
         r"(?:\.[0-9a-z]{2}(?:\.[0-9a-z]{2})?[0-9a-z]{7})?|glptt-[0-9a-f]{40}|GR1348941[A-Za-z0-9_-]{20}))" + LA_U,
         ["gldt-", "glrt-", "glrtr-", "glft-", "glimt-", "glsoat-", "glffct-", "gloas-", "glcbt-", "glagent-",
          "glwt-", "glptt-", "GR1348941"], "high", 320,
         [NP(5), ENT(3.0, 5)],
         tp=["deploy_token: gldt-" + rand(B64URL, 20), "runner token = glrt-t1_" + rand(B64URL, 27) + "." +
             rand("0123456789abcdefghijklmnopqrstuvwxyz", 9), "TRIGGER=glptt-" + rand(HEX, 40),
             "registration-token GR1348941" + rand(B64URL, 20)],
         fp=["gldt-xxxxxxxxxxxxxxxxxxxx", "glrt-" + rand(B64URL, 12), "glptt-" + rand(HEX, 39) + "g",
             "xgldt-" + rand(B64URL, 20), "glft-0000000000000000000000", "GR1348941" + rand(B64URL, 19)]),
)

# ---------------------------------------------------------------- Slack
reseed("slack")
def slack_id(n):
    return str(rng.randrange(10 ** (n - 1), 10 ** n))

xoxb = "xoxb-%s-%s-%s" % (slack_id(12), slack_id(13), rand(ALNUM, 24))
xoxp = "xoxp-%s-%s-%s-%s" % (slack_id(12), slack_id(12), slack_id(13), rand(HEX, 32))
xoxe = "xoxe.xoxp-1-" + rand(ALNUM, 163)
hook = "https://hooks.slack.com/services/T%s/B%s/%s" % (rand(UPPER_B32, 8), rand(UPPER_B32, 10), rand(ALNUM, 24))
family("slack",
    rule("slack-bot-token", "slack",
         "Slack bot token: xoxb-<team number>-<bot number>-<24+ alphanumerics>.",
         LB_U + r"(xoxb-[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{24,34})" + LA_U,
         ["xoxb-"], "critical", 70, [NP(5), ENT(3.0, 5)],
         tp=["SLACK_BOT_TOKEN=" + xoxb, "token: '%s'" % ("xoxb-%s-%s-%s" % (slack_id(11), slack_id(13), rand(ALNUM, 24)))],
         fp=["xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx",
             "xoxb-xxxxxxxxxxxx-xxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx",
             xoxb[:-5], "axoxb-" + xoxb[5:], "xoxb-your-bot-token-here"]),
    rule("slack-user-token", "slack",
         "Slack user (xoxp-) and legacy workspace-app (xoxa-) tokens: four dash-separated parts, the last 28-34 "
         "alphanumerics (32 hex in current xoxp tokens). The xoxa- form is legacy and its exact layout is not "
         "documented any more.",
         LB_U + r"(xox[pa]-(?:2-)?[0-9]{8,13}-[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{28,34})" + LA_U,
         ["xoxp-", "xoxa-"], "critical", 100, [NP(5), ENT(3.0, 5)],
         tp=["SLACK_USER_TOKEN=" + xoxp, "xoxa-2-%s-%s-%s-%s" % (slack_id(12), slack_id(12), slack_id(12), rand(HEX, 32))],
         fp=["xoxp-123456789012-123456789012-1234567890123-0123456789abcdef0123456789abcdef",
             "xoxp-" + "x" * 12 + "-" + "x" * 12 + "-" + "x" * 13 + "-" + "x" * 32, xoxp[:-6],
             "myxoxp-" + xoxp[5:], "xoxp-" + xoxp[5:].replace("-", "_")]),
    rule("slack-rotating-token", "slack",
         "Slack token-rotation tokens: access tokens xoxe.xoxb-1-/xoxe.xoxp-1- and refresh tokens xoxe-1-, followed by "
         "a long alphanumeric body (about 146-170 characters; the exact length is not documented).",
         LB_U + r"(xoxe(?:\.xox[bp])?-1-[A-Za-z0-9]{140,180})" + LA_U,
         ["xoxe"], "critical", 200, [NP(7), ENT(4.0, 12)],
         tp=["SLACK_TOKEN=" + xoxe, "refresh_token: xoxe-1-" + rand(ALNUM, 146)],
         fp=["xoxe-1-" + "x" * 146, "xoxe.xoxp-1-" + rand(ALNUM, 100), "axoxe-1-" + rand(ALNUM, 146),
             "xoxe-2-" + rand(ALNUM, 146)]),
    rule("slack-app-token", "slack",
         "Slack app-level token (Socket Mode): xapp-<digit>-<app id>-<number>-<64 hex>. The layout is what issued "
         "tokens show; Slack documents only the xapp- prefix.",
         LB_U + r"(xapp-[0-9]-[A-Z0-9]{8,12}-[0-9]{10,13}-[a-f0-9]{64})" + LA_U,
         ["xapp-"], "critical", 110, [NP(5, **HEXNP), ENT(3.2, 30)],
         tp=["SLACK_APP_TOKEN=xapp-1-A%s-%s-%s" % (rand(UPPER_B32, 10), slack_id(13), rand(HEX, 64)),
             "app_token: 'xapp-1-A%s-%s-%s'" % (rand(UPPER_B32, 9), slack_id(13), rand(HEX, 64))],
         fp=["xapp-1-A0000000000-0000000000000-" + "0" * 64, "xapp-1-A%s-%s-%s" % (rand(UPPER_B32, 10), slack_id(13), rand(HEX, 63)),
             "myxapp-1-A%s-%s-%s" % (rand(UPPER_B32, 10), slack_id(13), rand(HEX, 64)), "xapp-your-app-token"]),
    rule("slack-webhook-url", "slack",
         "Slack incoming-webhook URL (hooks.slack.com/services/T.../B.../<24 alphanumerics>) and workflow/trigger "
         "webhook URLs: anyone holding one can post to the channel.",
         r"(https?://hooks\.slack\.com/(?:services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24,32}"
         r"|(?:workflows|triggers)/T[A-Z0-9]{8,12}/A[A-Z0-9]{8,12}/[0-9]{15,20}/[A-Za-z0-9]{24,32}))" + LA_W,
         ["hooks.slack.com/"], "high", 160, [NP(60), ENT(3.0, 60)],
         tp=["SLACK_WEBHOOK=" + hook, "curl -X POST -d @msg.json https://hooks.slack.com/triggers/T%s/A%s/%s/%s" % (
             rand(UPPER_B32, 9), rand(UPPER_B32, 11), slack_id(18), rand(ALNUM, 32))],
         fp=["https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
             "https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/your-webhook-token",
             hook[:-3], "https://hooks.slack.com/services/" + hook.split("/services/")[1].lower(),
             "https://hooks.slack.com/"]),
)

# ---------------------------------------------------------------- Stripe
reseed("stripe")
family("stripe",
    rule("stripe-live-secret-key", "stripe",
         "Stripe live secret (sk_live_) or restricted (rk_live_) key: the prefix and 20 to 247 alphanumerics "
         "(Stripe keys are at most 255 characters).",
         LB_W + r"([sr]k_live_[A-Za-z0-9]{20,247})" + LA_W,
         ["k_live_"], "critical", 255, [NP(8), ENT(3.5, 8), MIXED],
         tp=["STRIPE_SECRET_KEY=sk_live_" + rand(ALNUM, 24), "Stripe.api_key = 'rk_live_%s'" % rand(ALNUM, 99)],
         fp=["sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "sk_live_" + rand(ALNUM, 12), "disk_live_" + rand(ALNUM, 24),
             "sk_live_4eC39HqLyjWDarjtT1zdp7dcEXAMPLE", "pk_live_" + rand(ALNUM, 24)]),
    rule("stripe-test-secret-key", "stripe",
         "Stripe test-mode secret (sk_test_) or restricted (rk_test_) key: no access to live data, but it exposes the "
         "account's test environment.",
         LB_W + r"([sr]k_test_[A-Za-z0-9]{20,247})" + LA_W,
         ["k_test_"], "low", 255, [NP(8), ENT(3.5, 8), MIXED],
         tp=["STRIPE_KEY=sk_test_" + rand(ALNUM, 24), "rk_test_" + rand(ALNUM, 99)],
         fp=["sk_test_xxxxxxxxxxxxxxxxxxxxxxxx", "sk_test_" + rand(ALNUM, 10), "risk_test_" + rand(ALNUM, 24),
             "sk_test_4eC39HqLyjWDarjtT1zdp7dcEXAMPLE"]),
)

# ---------------------------------------------------------------- npm
reseed("npm")
npm1, npm2 = gh_token("npm_"), gh_token("npm_")
family("npm",
    rule("npm-access-token", "npm",
         "npm access token: npm_ + 30 random base62 characters + their CRC32 in 6 base62 characters (npm's 2021 "
         "token format, the same scheme as GitHub's).",
         LB_W + r"(npm_[A-Za-z0-9]{36})" + LA_W,
         ["npm_"], "critical", 40, [{"type": "crc32_base62", "data_offset": 4, "checksum_length": 6}],
         tp=["//registry.npmjs.org/:_authToken=" + npm1, "NPM_TOKEN: " + npm2],
         fp=["//registry.npmjs.org/:_authToken=" + bad_checksum(npm1), "npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
             "pnpm_" + npm1[4:], "npm_" + npm1[4:-1], "NPM_TOKEN=${NPM_TOKEN}"]),
)

# ---------------------------------------------------------------- PyPI
reseed("pypi")
py1, py2, pyt = pypi(), pypi(caveats=0), pypi(b"test.pypi.org")
family("pypi",
    rule("pypi-api-token", "pypi",
         "PyPI API token: pypi- + base64url of a binary (v2) macaroon whose location is pypi.org (so it starts "
         "pypi-AgEIcHlwaS5vcmc); the validator decodes the header and checks the identifier field follows.",
         LB_U + r"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000})" + LA_U,
         ["pypi-AgEIcHlwaS5vcmc"], "critical", 1030, [{"type": "pypi_macaroon"}],
         tp=["[pypi]\n  username = __token__\n  password = " + py1, "TWINE_PASSWORD=" + py2],
         fp=["password = pypi-AgEIcHlwaS5vcmc" + "x" * 60,
             "pypi-AgEIcHlwaS5vcmc" + rand(B64URL, 80),
             "pypi-AgEIcHlwaS5vcmc...",
             "pypi-AgEIcHlwaS5vcmc" + py1[20:40],
             "mypypi-AgEIcHlwaS5vcmc" + py1[20:]]),
    rule("pypi-test-api-token", "pypi",
         "TestPyPI API token: as a PyPI token but located at test.pypi.org (pypi-AgENdGVzdC5weXBpLm9yZw...).",
         LB_U + r"(pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_-]{50,1000})" + LA_U,
         ["pypi-AgENdGVzdC5weXBpLm9yZw"], "low", 1030, [{"type": "pypi_macaroon"}],
         tp=["TWINE_PASSWORD=" + pyt, "password: " + pypi(b"test.pypi.org", caveats=2)],
         fp=["pypi-AgENdGVzdC5weXBpLm9yZw" + "A" * 60, "pypi-AgENdGVzdC5weXBpLm9yZw" + rand(B64URL, 80),
             "pypi-AgENdGVzdC5weXBpLm9yZw..."]),
)

# ---------------------------------------------------------------- AWS
reseed("aws")
akia = "AKIA" + rand(UPPER_B32, 16)
asia = "ASIA" + rand(UPPER_B32, 16)
secret = rand(B64, 40)
while not (any(c.isupper() for c in secret) and any(c.islower() for c in secret) and any(c.isdigit() for c in secret)):
    secret = rand(B64, 40)
secret2 = rand(B64, 40)
AWS_ID = r"(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])"
AWS_SECRET = (r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])"
              r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
family("aws",
    rule("aws-access-key-id", "aws",
         "AWS access key id: AKIA (long-term), ASIA (temporary, STS), ABIA or ACCA + 16 base32 characters. An id "
         "alone does not grant access, but it is rarely far from its secret.",
         r"(?<![A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])",
         ["AKIA", "ASIA", "ABIA", "ACCA"], "medium", 20, [NP(4)],
         tp=["aws_access_key_id = " + akia, "AWS_ACCESS_KEY_ID=" + asia],
         fp=["aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIA" + rand(UPPER_B32, 15), "XAKIA" + rand(UPPER_B32, 16),
             "AKIA" + rand(UPPER_B32, 16) + "9", "ASIA" + rand(UPPER_B32, 8).lower() + rand(UPPER_B32, 8),
             "AKIAXXXXXXXXXXXXXXXX"]),
    rule("aws-secret-access-key", "aws",
         "AWS secret access key (40 base64 characters, upper and lower case) reported only when an access key id "
         "(AKIA/ASIA) stands within 160 bytes before or after it, as in credentials files, CSV exports and env files.",
         r"(?|" + AWS_ID + r"[\s\S]{0,160}?" + AWS_SECRET + r"|" + AWS_SECRET + r"[\s\S]{0,160}?(?<![A-Za-z0-9])" +
         AWS_ID + r")",
         ["AKIA", "ASIA"], "critical", 240, [MIXED, NP(), ENT(4.0)],
         tp=["[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (akia, secret),
             "Access key ID,Secret access key\n%s,%s" % (akia, secret2),
             'export AWS_SECRET_ACCESS_KEY="%s"\nexport AWS_ACCESS_KEY_ID="%s"' % (secret, asia)],
         fp=["aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
             "aws_secret_access_key = " + secret,
             "aws_access_key_id = %s\ncommit %s" % (akia, rand(HEX, 40)),
             "aws_access_key_id = %s\naws_secret_access_key = %s" % (akia, secret[:39]),
             "aws_access_key_id = %s\nkey = %s" % (akia, rand(B64, 41))]),
)

# ---------------------------------------------------------------- Google
reseed("google")
family("google",
    rule("google-api-key", "google",
         "Google API key: AIza + 35 base64url characters (39 in all). Keys for browser APIs (Maps, Firebase) are "
         "often public by design, hence medium severity; restrict them by referrer or API.",
         LB_U + r"(AIza[0-9A-Za-z_-]{35})" + LA_U,
         ["AIza"], "medium", 39, [NP(4), ENT(3.5, 4)],
         tp=["GOOGLE_API_KEY=AIza" + rand(B64URL, 35), '<script src="https://maps.googleapis.com/maps/api/js?key=AIza%s">' % rand(B64URL, 35)],
         fp=["AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "AIza" + rand(B64URL, 34), "AIza" + rand(B64URL, 36),
             "xAIza" + rand(B64URL, 35), "apiKey: 'AIzaSyExampleExampleExampleExample12345'"]),
)

# ---------------------------------------------------------------- OpenAI
reseed("openai")
family("openai",
    rule("openai-api-key", "openai",
         "OpenAI API key: project (sk-proj-), service-account (sk-svcacct-) and admin (sk-admin-) keys and the older "
         "sk-<20>T3BlbkFJ<20> form; every format embeds T3BlbkFJ (base64 of 'OpenAI'). Segment lengths are not "
         "documented: 20 to 74 characters on each side are accepted.",
         LB_U + r"(sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,74}T3BlbkFJ[A-Za-z0-9_-]{20,74})" + LA_U,
         ["T3BlbkFJ"], "critical", 170, [NP(3), ENT(4.0, 3)],
         tp=["OPENAI_API_KEY=sk-proj-" + rand(B64URL, 74) + "T3BlbkFJ" + rand(B64URL, 74),
             "openai.api_key = 'sk-%sT3BlbkFJ%s'" % (rand(ALNUM, 20), rand(ALNUM, 20)),
             "sk-svcacct-" + rand(B64URL, 58) + "T3BlbkFJ" + rand(B64URL, 58)],
         fp=["sk-proj-xxxxxxxxxxxxxxxxxxxxT3BlbkFJxxxxxxxxxxxxxxxxxxxx", "sk-" + rand(ALNUM, 10) + "T3BlbkFJ" + rand(ALNUM, 20),
             "task-" + rand(ALNUM, 20) + "T3BlbkFJ" + rand(ALNUM, 20), "sk-proj-" + rand(B64URL, 48),
             "T3BlbkFJ"]),
)

# ---------------------------------------------------------------- Anthropic
reseed("anthropic")
family("anthropic",
    rule("anthropic-api-key", "anthropic",
         "Anthropic API key: sk-ant-api03- (or sk-ant-admin01- for admin keys) + 93 base64url characters + AA "
         "(108 or 110 characters). OAuth tokens (sk-ant-oat01-) are not covered: their layout is not documented.",
         LB_U + r"(sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA)" + LA_U,
         ["sk-ant-"], "critical", 112, [NP(14), ENT(4.0, 14)],
         tp=["ANTHROPIC_API_KEY=sk-ant-api03-" + rand(B64URL, 93) + "AA",
             "client = Anthropic(api_key='sk-ant-admin01-%sAA')" % rand(B64URL, 93)],
         fp=["sk-ant-api03-" + "x" * 93 + "AA", "sk-ant-api03-" + rand(B64URL, 93) + "AB",
             "sk-ant-api03-" + rand(B64URL, 92) + "AA", "sk-ant-api03-...", "task-ant-api03-" + rand(B64URL, 93) + "AA"]),
)

# ---------------------------------------------------------------- Hugging Face
reseed("huggingface")
family("huggingface",
    rule("huggingface-token", "huggingface",
         "Hugging Face user access token: hf_ + 34 letters; organization API tokens: api_org_ + 34 letters. The "
         "34-letter body is what tokens seen in the wild show; Hugging Face does not document it.",
         LB_W + r"((?:hf_|api_org_)[A-Za-z]{34})" + LA_W,
         ["hf_", "api_org_"], "high", 42,
         [NP(3), ENT(3.5, 3), {"type": "char_classes", "min_upper": 2, "min_lower": 2}],
         tp=["HF_TOKEN=hf_" + rand(LETTERS, 34), "login(token='api_org_%s')" % rand(LETTERS, 34)],
         fp=["hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "hf_" + rand(LETTERS, 33), "hf_" + rand(LETTERS, 20) + "1" + rand(LETTERS, 13),
             "self.hf_" + rand(LETTERS, 34) + "_cache", "hf_abcdefghijklmnopqrstuvwxyzabcdefgh",
             "hf_" + "modelsfromthehubarecachedlocallyin"]),
)

# ---------------------------------------------------------------- Shopify
reseed("shopify")
family("shopify",
    rule("shopify-access-token", "shopify",
         "Shopify access tokens: shpat_ (admin API), shpca_ (custom app), shppa_ (private app) + 32 hex.",
         LB_W + r"(shp(?:at|ca|pa)_[a-fA-F0-9]{32})" + LA_W,
         ["shpat_", "shpca_", "shppa_"], "critical", 38, [NP(6, **HEXNP), ENT(2.8, 6)],
         tp=["SHOPIFY_ACCESS_TOKEN=shpat_" + rand(HEX, 32), "X-Shopify-Access-Token: shppa_" + rand(HEX, 32)],
         fp=["shpat_00000000000000000000000000000000", "shpat_" + rand(HEX, 31), "shpat_" + rand(HEX, 32) + "a",
             "xshpat_" + rand(HEX, 32), "shpat_" + rand(ALNUM, 32)]),
    rule("shopify-shared-secret", "shopify",
         "Shopify app shared secret: shpss_ + 32 hex.",
         LB_W + r"(shpss_[a-fA-F0-9]{32})" + LA_W,
         ["shpss_"], "critical", 38, [NP(6, **HEXNP), ENT(2.8, 6)],
         tp=["SHOPIFY_API_SECRET=shpss_" + rand(HEX, 32), "secret: shpss_" + rand(HEX, 32).upper()],
         fp=["shpss_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "shpss_" + rand(HEX, 30), "shpss_0123456789abcdef0123456789abcdef",
             "myshpss_" + rand(HEX, 32)]),
)

# ---------------------------------------------------------------- DigitalOcean
reseed("digitalocean")
family("digitalocean",
    rule("digitalocean-token", "digitalocean",
         "DigitalOcean personal access token (dop_v1_), OAuth token (doo_v1_) or refresh token (dor_v1_): the prefix "
         "+ 64 hex.",
         LB_W + r"(do[por]_v1_[a-f0-9]{64})" + LA_W,
         ["dop_v1_", "doo_v1_", "dor_v1_"], "critical", 71, [NP(7, **HEXNP), ENT(3.2, 7)],
         tp=["DIGITALOCEAN_TOKEN=dop_v1_" + rand(HEX, 64), "refresh_token: dor_v1_" + rand(HEX, 64)],
         fp=["dop_v1_" + "0" * 64, "dop_v1_" + rand(HEX, 63), "dop_v1_" + rand(HEX, 64) + "f",
             "xdop_v1_" + rand(HEX, 64), "dop_v1_" + rand(HEX, 32).upper() * 2]),
)

# ---------------------------------------------------------------- Doppler
reseed("doppler")
family("doppler",
    rule("doppler-token", "doppler",
         "Doppler tokens: personal (dp.pt.), service (dp.st.[<config>.]), service account (dp.sa.), CLI (dp.ct.), "
         "SCIM (dp.scim.) and audit (dp.audit.), with a 40-44 alphanumeric body (43 for personal tokens; the other "
         "lengths are not documented).",
         r"(?<![A-Za-z0-9_.-])(dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44})" + LA_W,
         ["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."], "high", 90,
         [NP(6), ENT(3.5, 6), MIXED],
         tp=["DOPPLER_TOKEN=dp.pt." + rand(ALNUM, 43), "doppler run --token dp.st.prd." + rand(ALNUM, 43)],
         fp=["dp.pt.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "dp.pt." + rand(ALNUM, 30),
             "dp.pt." + rand(ALNUM, 45), "fdp.pt." + rand(ALNUM, 43), "dp.xx." + rand(ALNUM, 43)]),
)

# ---------------------------------------------------------------- HashiCorp
reseed("hashicorp")
family("hashicorp",
    rule("vault-service-token", "hashicorp",
         "HashiCorp Vault service token (Vault 1.10+): hvs. + 24 base62 characters, or + 90-250 base64url "
         "characters for tokens that carry a namespace or come from HCP Vault.",
         r"(?<![A-Za-z0-9_.-])(hvs\.(?:[A-Za-z0-9]{24}|[A-Za-z0-9_-]{90,250}))" + LA_U,
         ["hvs."], "critical", 260, [NP(4, words=["6j4cuewowBGit65rheNoceI7"]), ENT(3.5, 4), MIXED],
         tp=["VAULT_TOKEN=hvs." + rand(ALNUM, 24), "token: hvs.CAESI" + rand(B64URL, 95)],
         fp=["VAULT_TOKEN=hvs.6j4cuewowBGit65rheNoceI7", "hvs.xxxxxxxxxxxxxxxxxxxxxxxx", "hvs." + rand(ALNUM, 23),
             "ahvs." + rand(ALNUM, 24), "hvs." + rand(ALNUM, 40)]),
    rule("vault-batch-token", "hashicorp",
         "HashiCorp Vault batch token: hvb. + 138-300 base64url characters.",
         r"(?<![A-Za-z0-9_.-])(hvb\.[A-Za-z0-9_-]{138,300})" + LA_U,
         ["hvb."], "high", 310, [NP(4), ENT(4.0, 4)],
         tp=["VAULT_TOKEN=hvb.AAAAAQ" + rand(B64URL, 150), "hvb." + rand(B64URL, 200)],
         fp=["hvb." + "x" * 150, "hvb." + rand(B64URL, 100), "xhvb." + rand(B64URL, 150)]),
    rule("terraform-cloud-token", "hashicorp",
         "Terraform Cloud / HCP Terraform API token: 14 alphanumerics + .atlasv1. + 60-70 base64url characters.",
         LB_U + r"([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70})" + LA_U,
         [".atlasv1."], "critical", 93, [NP(23), ENT(4.0, 23)],
         tp=['credentials "app.terraform.io" {\n  token = "%s.atlasv1.%s"\n}' % (rand(ALNUM, 14), rand(B64URL, 67)),
             "TFE_TOKEN=%s.atlasv1.%s" % (rand(ALNUM, 14), rand(B64URL, 64))],
         fp=["xxxxxxxxxxxxxx.atlasv1." + "x" * 67, "%s.atlasv1.%s" % (rand(ALNUM, 13), rand(B64URL, 67)),
             "%s.atlasv1.%s" % (rand(ALNUM, 14), rand(B64URL, 40)), "version: atlasv1"]),
)

# ---------------------------------------------------------------- the rest, one prefix each
def simple(fam, id, desc, prefix_re, keywords, body_re, body_len, alphabet, severity, off, gen_body, decoys,
           hex_body=False, bits=None, tp_ctx=("%s=%%s",), lb=LB_W, la=LA_W):
    validators = [NP(off, **(HEXNP if hex_body else {})), ENT(bits if bits else (2.8 if hex_body else 3.5), off)]
    toks = [gen_body() for _ in range(2)]
    tp = [tp_ctx[0] % t if "%s" in tp_ctx[0] else t for t in toks[:1]] + [
        (tp_ctx[1] % toks[1]) if len(tp_ctx) > 1 else "key: '%s'" % toks[1]]
    return rule(id, fam, desc, lb + "(" + prefix_re + body_re + ")" + la, keywords, severity, body_len, validators,
                tp=tp, fp=decoys)


reseed("databricks")
dapi = lambda: "dapi" + rand(HEX, 32)
family("databricks", simple("databricks", "databricks-token",
    "Databricks personal access token: dapi + 32 hex, optionally followed by -<digit>.",
    "dapi", ["dapi"], r"[a-f0-9]{32}(?:-[0-9])?", 38, HEX, "high", 4, dapi,
    ["dapi" + "0" * 32, "dapi" + rand(HEX, 31), "dapi" + rand(HEX, 33), "rapid_dapi" + rand(HEX, 32) + "x",
     "dapi" + rand(ALNUM, 32)], hex_body=True, tp_ctx=("DATABRICKS_TOKEN=%s", "token = \"%s-2\"")))

reseed("linear")
family("linear", simple("linear", "linear-api-key",
    "Linear personal API key: lin_api_ + 40 alphanumerics.",
    "lin_api_", ["lin_api_"], r"[A-Za-z0-9]{40}", 48, ALNUM, "high", 8, lambda: "lin_api_" + rand(ALNUM, 40),
    ["lin_api_" + "x" * 40, "lin_api_" + rand(ALNUM, 39), "lin_api_" + rand(ALNUM, 41), "berlin_api_" + rand(ALNUM, 40),
     "lin_api_YOUR_API_KEY"], tp_ctx=("LINEAR_API_KEY=%s", "Authorization: %s")))

reseed("postman")
family("postman", simple("postman", "postman-api-key",
    "Postman API key: PMAK- + 24 hex + '-' + 34 hex.",
    "PMAK-", ["PMAK-"], r"[a-f0-9]{24}-[a-f0-9]{34}", 64, HEX, "high", 5,
    lambda: "PMAK-" + rand(HEX, 24) + "-" + rand(HEX, 34),
    ["PMAK-" + "0" * 24 + "-" + "0" * 34, "PMAK-" + rand(HEX, 24) + "-" + rand(HEX, 33), "PMAK-" + rand(HEX, 24),
     "XPMAK-" + rand(HEX, 24) + "-" + rand(HEX, 34), "PMAK-xxxxxxxxxxxxxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
    hex_body=True, tp_ctx=("POSTMAN_API_KEY=%s", "X-Api-Key: %s")))

reseed("pulumi")
family("pulumi", simple("pulumi", "pulumi-access-token",
    "Pulumi access token: pul- + 40 hex.",
    "pul-", ["pul-"], r"[a-f0-9]{40}", 44, HEX, "high", 4, lambda: "pul-" + rand(HEX, 40),
    ["pul-" + "0" * 40, "pul-" + rand(HEX, 39), "pul-" + rand(HEX, 41), "xpul-" + rand(HEX, 40), "pul-" + rand(ALNUM, 40)],
    hex_body=True, tp_ctx=("PULUMI_ACCESS_TOKEN=%s", "pulumi login --token %s"), lb=LB_U, la=LA_U))

reseed("grafana")
gsa1, gsa2 = grafana_sa(), grafana_sa()
family("grafana",
    rule("grafana-service-account-token", "grafana",
         "Grafana service account token: glsa_ + 32 alphanumerics + '_' + the CRC32 of the text before that '_' as "
         "8 hex digits of its little-endian bytes (Grafana's pkg/components/satokengen).",
         LB_W + r"(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})" + LA_W,
         ["glsa_"], "critical", 46,
         [{"type": "crc32_hex", "data_offset": 0, "separator": 1, "checksum_length": 8, "byte_order": "little"}],
         tp=["GRAFANA_TOKEN=" + gsa1, "Authorization: Bearer " + gsa2],
         fp=[gsa1[:-1] + ("0" if gsa1[-1] != "0" else "1"), "glsa_" + "x" * 32 + "_" + "0" * 8, gsa1[:-1],
             "xglsa_" + gsa1[5:], "glsa_" + rand(ALNUM, 32) + "_" + rand(ALNUM, 8)]),
    rule("grafana-cloud-token", "grafana",
         "Grafana Cloud access policy token: glc_ + base64 of a JSON object (so it starts glc_eyJ).",
         r"(?<![A-Za-z0-9_+/])(glc_eyJ[A-Za-z0-9+/]{32,400}={0,2})(?![A-Za-z0-9+/=])",
         ["glc_eyJ"], "critical", 410, [NP(4), ENT(4.0, 4)],
         tp=["GRAFANA_CLOUD_TOKEN=" + glc(), "password: " + glc()],
         fp=["glc_eyJ" + "x" * 40, "glc_eyJ" + rand(B64, 20), "xglc_eyJ" + rand(B64, 80), "glc_" + rand(B64, 80)]),
)

reseed("sendgrid")
family("sendgrid", simple("sendgrid", "sendgrid-api-key",
    "SendGrid API key: SG. + 22 base64url + '.' + 43 base64url characters.",
    r"SG\.", ["SG."], r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", 69, B64URL, "critical", 3,
    lambda: "SG." + rand(B64URL, 22) + "." + rand(B64URL, 43),
    ["SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "SG." + rand(B64URL, 22) + "." + rand(B64URL, 42),
     "SG." + rand(B64URL, 21) + "." + rand(B64URL, 43), "MSG." + rand(B64URL, 22) + "." + rand(B64URL, 43),
     "SG." + rand(B64URL, 22)], bits=4.0, tp_ctx=("SENDGRID_API_KEY=%s", "sg = SendGridAPIClient('%s')"), lb=LB_U, la=LA_U))

# Twilio: the SID prefixes (SK, AC) are two bytes, far too common for the
# prefilter, and an auth token is bare hex. Both rules therefore anchor on the
# vendor's name ("twilio", any case) on the same line or in the key name.
reseed("twilio")
family("twilio",
    rule("twilio-api-key", "twilio",
         "Twilio API key SID (SK + 32 hex) on a line that names Twilio. The SID identifies the key; its secret "
         "usually sits next to it. Anchored on 'twilio' because 'SK' is too short a keyword.",
         r"(?i:twilio)[^\r\n]{0,80}?(?<![A-Za-z0-9])(SK[0-9a-f]{32})(?![A-Za-z0-9])",
         ["twilio"], "medium", 130, [NP(2, **HEXNP), ENT(2.8, 2)],
         tp=["TWILIO_API_KEY=SK" + rand(HEX, 32), "twilio_client = Client('SK%s', api_secret)" % rand(HEX, 32)],
         fp=["TWILIO_API_KEY=SKxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "TWILIO_API_KEY=SK" + rand(HEX, 31),
             "api_key = 'SK%s'" % rand(HEX, 32), "TWILIO_API_KEY=ASK" + rand(HEX, 32),
             "twilio: SK00000000000000000000000000000000"], nocase=True),
    rule("twilio-auth-token", "twilio",
         "Twilio auth token or API secret (32 hex) assigned to a name that mentions Twilio and auth/secret/token, or "
         "used as the password in https://AC...:<token>@api.twilio.com.",
         r"(?|(?i:twilio)[A-Za-z0-9_.-]{0,30}(?i:auth|secret|token)[A-Za-z0-9_.-]{0,20}[\"']?[ \t]{0,5}[:=]{1,2}"
         r"[ \t]{0,5}[\"']?([0-9a-f]{32})(?![A-Za-z0-9])"
         r"|(?<![A-Za-z0-9])AC[0-9a-f]{32}:([0-9a-f]{32})@api\.twilio\.com)",
         ["twilio"], "critical", 120, [NP(**HEXNP), ENT(2.8)],
         tp=["TWILIO_AUTH_TOKEN=" + rand(HEX, 32), "config.twilio.authToken = \"%s\";" % rand(HEX, 32),
             "curl https://AC%s:%s@api.twilio.com/2010-04-01/Accounts.json" % (rand(HEX, 32), rand(HEX, 32))],
         fp=["TWILIO_AUTH_TOKEN=your_auth_token", "TWILIO_AUTH_TOKEN=" + "0" * 32, "TWILIO_AUTH_TOKEN=" + rand(HEX, 31),
             "TWILIO_ACCOUNT_SID=AC" + rand(HEX, 32), "AUTH_TOKEN=" + rand(HEX, 32)], nocase=True),
)

reseed("mailgun")
family("mailgun",
    rule("mailgun-api-key", "mailgun",
         "Mailgun private API key: key- + 32 hex (older keys) or 32 hex-8 hex-8 hex (current keys), within 120 bytes "
         "after, or on the same line before, the word 'mailgun' (any case): the current format has no prefix.",
         r"(?|(?i:mailgun)[\s\S]{0,120}?(?<![A-Za-z0-9-])(key-[0-9a-f]{32}|[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})"
         r"(?![A-Za-z0-9-])|(?<![A-Za-z0-9-])(key-[0-9a-f]{32}|[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})(?![A-Za-z0-9-])"
         r"[^\r\n]{0,80}?(?i:mailgun))",
         ["mailgun"], "critical", 180, [NP(**HEXNP), ENT(2.8)],
         tp=["MAILGUN_API_KEY=key-" + rand(HEX, 32),
             "requests.post('https://api.mailgun.net/v3/mg.example.org/messages',\n    auth=('api', '%s-%s-%s'))" % (
                 rand(HEX, 32), rand(HEX, 8), rand(HEX, 8)),
             "key = 'key-%s'  # mailgun" % rand(HEX, 32)],
         fp=["MAILGUN_API_KEY=key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "MAILGUN_API_KEY=key-" + rand(HEX, 31),
             "api_key = 'key-%s'" % rand(HEX, 32), "MAILGUN_API_KEY=monkey-" + rand(HEX, 32),
             "mailgun_key = %s" % rand(HEX, 32)], nocase=True),
)

reseed("atlassian")
at1, at2 = atlassian(), atlassian()
family("atlassian",
    rule("atlassian-api-token", "atlassian",
         "Atlassian Cloud API token (Jira, Confluence, Bitbucket): ATATT3 + base64url body + '=' + 8 upper-case hex "
         "digits, about 192 characters. The last 8 digits are the CRC32 of everything before them (including the "
         "'='): not documented by Atlassian, inferred from public token samples and checked.",
         LB_U + r"(ATATT3[A-Za-z0-9_-]{100,300}=[0-9A-F]{8})" + LA_W,
         ["ATATT3"], "critical", 320, [{"type": "crc32_hex", "data_offset": 0, "checksum_length": 8}],
         tp=["JIRA_API_TOKEN=" + at1, "confluence:\n  token: '%s'" % at2],
         fp=[at1[:-1] + ("0" if at1[-1] != "0" else "1"), "ATATT3" + "x" * 170 + "=00000000", "ATATTxxxxxxxxx",
             at1[:-9], "XATATT3" + at1[6:]]),
)

reseed("sentry")
family("sentry",
    rule("sentry-org-token", "sentry",
         "Sentry organization auth token: sntrys_ + base64 of a JSON object (starting eyJ) + '_' + 43 base64 "
         "characters.",
         r"(?<![A-Za-z0-9_])(sntrys_eyJ[A-Za-z0-9+/]{30,600}={0,2}_[A-Za-z0-9+/]{43})(?![A-Za-z0-9+/=_])",
         ["sntrys_"], "critical", 700, [NP(7), ENT(4.0, 7)],
         tp=["SENTRY_AUTH_TOKEN=" + sentry_org(), "auth.token=" + sentry_org()],
         fp=["SENTRY_AUTH_TOKEN=sntrys_" + "x" * 120, "sntrys_eyJ" + rand(B64, 60), "sntrys_YOUR_TOKEN_HERE",
             "xsntrys_eyJ" + rand(B64, 80) + "_" + rand(B64, 43)]),
    rule("sentry-user-token", "sentry",
         "Sentry user auth token: sntryu_ + 64 hex.",
         LB_W + r"(sntryu_[a-f0-9]{64})" + LA_W,
         ["sntryu_"], "critical", 71, [NP(7, **HEXNP), ENT(3.2, 7)],
         tp=["SENTRY_AUTH_TOKEN=sntryu_" + rand(HEX, 64), "token: sntryu_" + rand(HEX, 64)],
         fp=["sntryu_" + "0" * 64, "sntryu_" + rand(HEX, 63), "sntryu_" + rand(HEX, 65), "xsntryu_" + rand(HEX, 64)]),
)

reseed("planetscale")
family("planetscale", simple("planetscale", "planetscale-token",
    "PlanetScale service token (pscale_tkn_), password (pscale_pw_) or OAuth token (pscale_oauth_): 32-64 "
    "characters of [A-Za-z0-9_.=-].",
    r"pscale_(?:tkn|pw|oauth)_", ["pscale_"], r"[A-Za-z0-9_.=-]{32,64}", 77,
    B64URL, "critical", 10, lambda: "pscale_tkn_" + rand(B64URL, 43),
    ["pscale_tkn_" + "x" * 43, "pscale_tkn_" + rand(B64URL, 20), "pscale_tkn_" + rand(B64URL, 70),
     "xpscale_tkn_" + rand(B64URL, 43), "pscale_tkn_<your-service-token>"],
    tp_ctx=("PLANETSCALE_SERVICE_TOKEN=%s", "password: pscale_pw_" + rand(B64URL, 43) + " # %s"), lb=LB_U, la=LA_U))

reseed("supabase")
family("supabase",
    rule("supabase-access-token", "supabase",
         "Supabase personal access token (management API): sbp_ + 40 hex.",
         LB_W + r"(sbp_[a-f0-9]{40})" + LA_W, ["sbp_"], "critical", 44, [NP(4, **HEXNP), ENT(3.0, 4)],
         tp=["SUPABASE_ACCESS_TOKEN=sbp_" + rand(HEX, 40), "supabase login --token sbp_" + rand(HEX, 40)],
         fp=["sbp_" + "0" * 40, "sbp_" + rand(HEX, 39), "sbp_" + rand(HEX, 41), "xsbp_" + rand(HEX, 40), "sbp_" + rand(ALNUM, 40)]),
    rule("supabase-secret-key", "supabase",
         "Supabase secret API key (the 2025 replacement of the service_role JWT): sb_secret_ + base64url. The body "
         "length is not documented; 20-80 characters are accepted.",
         LB_W + r"(sb_secret_[A-Za-z0-9_-]{20,80})" + LA_U, ["sb_secret_"], "critical", 90, [NP(10), ENT(3.5, 10)],
         tp=["SUPABASE_SECRET_KEY=sb_secret_" + rand(B64URL, 31), "key: sb_secret_" + rand(B64URL, 40)],
         fp=["sb_secret_" + "x" * 31, "sb_secret_" + rand(B64URL, 10), "my_sb_secret_" + rand(B64URL, 31),
             "sb_secret_..."]),
)

reseed("figma")
family("figma", simple("figma", "figma-token",
    "Figma personal access token: figd_ + about 40 base64url characters. Figma does not document the length; 38 "
    "to 45 are accepted.",
    "figd_", ["figd_"], r"[A-Za-z0-9_-]{38,45}", 50, B64URL, "high", 5, lambda: "figd_" + rand(B64URL, 40),
    ["figd_" + "x" * 40, "figd_" + rand(B64URL, 20), "figd_" + rand(B64URL, 50), "xfigd_" + rand(B64URL, 40),
     "figd_YOUR_PERSONAL_ACCESS_TOKEN_GOES_HERE_1"],
    tp_ctx=("FIGMA_TOKEN=%s", "X-Figma-Token: %s"), lb=LB_U, la=LA_U))

# ---------------------------------------------------------------- PEM private keys
reseed("private-key")
PEM_LABEL = r"((?:[A-Z0-9]+ ){0,2}PRIVATE KEY)"
family("private-key",
    rule("pem-private-key", "private-key",
         "PEM private key block (PKCS#1 RSA, EC, DSA, PKCS#8, encrypted PKCS#8, OpenSSH, legacy encrypted PEM), "
         "from -----BEGIN to the matching -----END line, reported once per block. Bodies escaped into JSON or code "
         "strings (literal \\n) are found too. The validator checks the body decodes to a DER SEQUENCE of its "
         "declared length (or an openssh-key-v1 key). Blocks longer than 8 KB or without their END line are not "
         "reported.",
         r"-----BEGIN " + PEM_LABEL + r"-----(?:[ \t\r\n]|\\[rn]){1,8}[A-Za-z0-9+/=:,. \t\r\n\\-]{64,8100}?"
         r"-----END \1-----",
         ["PRIVATE KEY-----"], "critical", 8192, [{"type": "pem_private_key"}], secret_group=0,
         tp=[pem("RSA PRIVATE KEY", 1190), "id_ed25519:\n" + pem("OPENSSH PRIVATE KEY", 380, openssh=True),
             '{"type": "service_account", "private_key": "%s\\n"}' % pem("PRIVATE KEY", 1214, escape="\\n"),
             pem("EC PRIVATE KEY", 117)],
         fp=["-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA...\n-----END RSA PRIVATE KEY-----",
             "-----BEGIN PRIVATE KEY-----\n" + "X" * 64 + "\n" + "X" * 64 + "\n-----END PRIVATE KEY-----",
             "-----BEGIN RSA PRIVATE KEY-----\n" + base64.b64encode(rng.randbytes(300)).decode() + "\n-----END RSA PRIVATE KEY-----",
             pem("RSA PRIVATE KEY", 1190).replace("-----END RSA", "-----END EC"),
             "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(rng.randbytes(290)).decode() + "\n-----END PUBLIC KEY-----",
             "const header = '-----BEGIN PRIVATE KEY-----';"]),
    rule("pgp-private-key", "private-key",
         "OpenPGP private key block (ASCII armor, RFC 4880/9580): from -----BEGIN PGP PRIVATE KEY BLOCK----- to its "
         "END line, once per block. The validator checks the data starts with a secret-key packet and, when the "
         "armor has its =XXXX line, the CRC-24 checksum. Blocks longer than 8 KB (an RSA-4096 key with its subkey is "
         "about 7 KB) are not reported.",
         r"-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]{64,8100}?-----END PGP PRIVATE KEY BLOCK-----",
         ["BEGIN PGP PRIVATE KEY BLOCK-----"], "critical", 8192, [{"type": "pgp_private_key"}], secret_group=0,
         tp=[pgp(900), "key.asc:\n" + pgp(1800, header=False),
             '{"signing_key": "%s"}' % pgp(700, checksum=False).replace("\n", "\\n")],
         fp=["-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQdGBF...\n-----END PGP PRIVATE KEY BLOCK-----",
             pgp(900, bad_sum=True), pgp(900, tag=0xC6),
             pgp(900).replace("PRIVATE KEY BLOCK", "PUBLIC KEY BLOCK"),
             pgp(900).replace("-----END PGP PRIVATE KEY BLOCK-----", "")]),
)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rules")
    for name, rules in FILES.items():
        path = os.path.join(root, name + ".json")
        with open(path, "w") as f:
            json.dump({"rules": rules}, f, indent=2, ensure_ascii=False)
            f.write("\n")
    print("wrote %d rule files, %d rules" % (len(FILES), sum(len(r) for r in FILES.values())), file=sys.stderr)


if __name__ == "__main__":
    main()
