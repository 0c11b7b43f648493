#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/buf.h"
#include "scanner/validate.h"
#include "common/banned.h"

/* Validators must be precise in both directions: a false drop hides a real
 * leak (it only resurfaces with --report-invalid), a false pass is noise.
 * Each check below therefore follows the vendor's construction exactly where
 * one is documented; where it relies on heuristics (placeholder words, runs,
 * entropy) the rule pack's parameters keep the chance that a random token
 * fails below 1e-5 (checked by simulation, see docs/rules.md). */

/* ---- shared helpers ---------------------------------------------------- */

static int json_int(const cJSON *json, const char *name, int def, int min, int max, int *out, bs_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, name);
	if (!v) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)v->valueint || v->valueint < min || v->valueint > max)
		return bs_error_set(err, BS_ERR_RULE, "validator parameter \"%s\" must be a whole number from %d to %d",
				    name, min, max);
	*out = v->valueint;
	return 0;
}

static int json_num(const cJSON *json, const char *name, double def, double min, double max, double *out,
		    bs_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, name);
	if (!v) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max)
		return bs_error_set(err, BS_ERR_RULE, "validator parameter \"%s\" must be a number from %g to %g", name,
				    min, max);
	*out = v->valuedouble;
	return 0;
}

/* IEEE 802.3 CRC-32 (zlib's crc32, Go's crc32.ChecksumIEEE). */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t k = i;
		for (int j = 0; j < 8; j++)
			k = k & 1 ? 0xedb88320u ^ (k >> 1) : k >> 1;
		crc_table[i] = k;
	}
}

uint32_t bs_validate_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	pthread_once(&crc_once, crc_init);
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* log2 without libm: x = m * 2^e with m in [1, 2), ln(m) = 2 atanh((m-1)/(m+1)). */
static double log2_approx(double x)
{
	int e = 0;
	double t, t2, term, sum = 0;
	while (x >= 2.0) {
		x /= 2.0;
		e++;
	}
	while (x < 1.0) {
		x *= 2.0;
		e--;
	}
	t = (x - 1.0) / (x + 1.0);
	t2 = t * t;
	term = t;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= t2;
	}
	return e + 2.0 * sum / 0.69314718055994530942;
}

double bs_validate_entropy(const uint8_t *s, size_t n)
{
	size_t counts[256] = { 0 };
	double h = 0;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		counts[s[i]]++;
	for (int c = 0; c < 256; c++) {
		if (counts[c]) {
			double p = (double)counts[c] / (double)n;
			h -= p * log2_approx(p);
		}
	}
	return h;
}

/* ---- last_char_in ------------------------------------------------------- */

/* The secret's last byte is one of "chars". For base64url bodies whose bit
 * length is not a multiple of 6 the last character carries zero padding bits,
 * so only a subset of the alphabet can end a real token. */
static int last_char_parse(const cJSON *json, void **params, bs_error *err)
{
	const cJSON *chars = cJSON_GetObjectItemCaseSensitive(json, "chars");
	if (!cJSON_IsString(chars) || !chars->valuestring[0])
		return bs_error_set(err, BS_ERR_RULE, "validator last_char_in needs a non-empty string \"chars\"");
	*params = bs_xstrdup(chars->valuestring);
	return 0;
}

static int last_char_check(const void *params, const uint8_t *secret, size_t len)
{
	return len > 0 && secret[len - 1] != '\0' && strchr(params, secret[len - 1]) != NULL;
}

static const bs_validator_type last_char_in = {
	"last_char_in",
	"the last character is one of \"chars\" (base64 padding bits must be zero)",
	last_char_parse,
	last_char_check,
	free,
};

/* ---- crc32_base62 / crc32_hex ------------------------------------------ */

typedef struct crc_params {
	int data_offset;     /* checksummed data starts here (skips the prefix) */
	int separator;       /* bytes between the data and the checksum */
	int checksum_length; /* the checksum is the secret's last bytes */
	int little_endian;   /* crc32_hex: bytes written low byte first */
} crc_params;

static int crc_parse_common(const cJSON *json, crc_params *p, int def_len, bs_error *err)
{
	if (json_int(json, "data_offset", 0, 0, 1024, &p->data_offset, err) < 0 ||
	    json_int(json, "separator", 0, 0, 16, &p->separator, err) < 0 ||
	    json_int(json, "checksum_length", def_len, 1, 16, &p->checksum_length, err) < 0)
		return -1;
	return 0;
}

static int crc_base62_parse(const cJSON *json, void **params, bs_error *err)
{
	crc_params *p = bs_xcalloc(1, sizeof(*p));
	if (crc_parse_common(json, p, 6, err) < 0) {
		free(p);
		return BS_ERR_RULE;
	}
	if (p->checksum_length > 6) {
		free(p);
		return bs_error_set(err, BS_ERR_RULE, "validator crc32_base62: \"checksum_length\" is at most 6");
	}
	*params = p;
	return 0;
}

static int base62_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

/* GitHub and npm: the last 6 characters are CRC32(random part) in base62
 * (alphabet 0-9A-Za-z, most significant digit first, left-padded with '0'). */
static int crc_base62_check(const void *params, const uint8_t *secret, size_t len)
{
	const crc_params *p = params;
	size_t cl = (size_t)p->checksum_length, need = (size_t)p->data_offset + (size_t)p->separator + cl;
	uint64_t v = 0;
	if (len <= need)
		return 0;
	for (size_t i = len - cl; i < len; i++) {
		int d = base62_value(secret[i]);
		if (d < 0)
			return 0;
		v = v * 62 + (uint64_t)d;
	}
	return v == bs_validate_crc32(secret + p->data_offset, len - need);
}

static const bs_validator_type crc32_base62 = {
	"crc32_base62",
	"the last \"checksum_length\" (6) characters are the base62 CRC32 of the characters from \"data_offset\" on",
	crc_base62_parse,
	crc_base62_check,
	free,
};

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int crc_hex_parse(const cJSON *json, void **params, bs_error *err)
{
	crc_params *p = bs_xcalloc(1, sizeof(*p));
	const cJSON *order = cJSON_GetObjectItemCaseSensitive(json, "byte_order");
	if (crc_parse_common(json, p, 8, err) < 0) {
		free(p);
		return BS_ERR_RULE;
	}
	if (p->checksum_length != 8 ||
	    (order && (!cJSON_IsString(order) || (strcmp(order->valuestring, "little") != 0 &&
						   strcmp(order->valuestring, "big") != 0)))) {
		free(p);
		return bs_error_set(err, BS_ERR_RULE,
				    "validator crc32_hex: \"checksum_length\" must be 8 and \"byte_order\" "
				    "\"little\" or \"big\"");
	}
	p->little_endian = order && strcmp(order->valuestring, "little") == 0;
	*params = p;
	return 0;
}

/* Grafana service account tokens: CRC32 of "glsa_<secret>" written as the hex
 * of its little-endian bytes, after a '_' separator. */
static int crc_hex_check(const void *params, const uint8_t *secret, size_t len)
{
	const crc_params *p = params;
	size_t need = (size_t)p->data_offset + (size_t)p->separator + 8;
	uint32_t want = 0, crc;
	if (len <= need)
		return 0;
	for (size_t i = len - 8; i < len; i++) {
		int d = hex_value(secret[i]);
		if (d < 0)
			return 0;
		want = want << 4 | (uint32_t)d;
	}
	crc = bs_validate_crc32(secret + p->data_offset, len - need);
	if (p->little_endian)
		crc = (crc >> 24) | ((crc >> 8) & 0xff00u) | ((crc << 8) & 0xff0000u) | (crc << 24);
	return want == crc;
}

static const bs_validator_type crc32_hex = {
	"crc32_hex",
	"the last 8 characters are the hex CRC32 (\"byte_order\" big or little) of the characters from "
	"\"data_offset\" up to \"separator\" characters before them",
	crc_hex_parse,
	crc_hex_check,
	free,
};

/* ---- charset / length / char_classes ------------------------------------ */

/* "chars" lists allowed bytes; "a-z" is a range, '-' first or last is literal. */
static int charset_parse(const cJSON *json, void **params, bs_error *err)
{
	const cJSON *chars = cJSON_GetObjectItemCaseSensitive(json, "chars");
	unsigned char *set;
	const unsigned char *s;
	size_t n;
	if (!cJSON_IsString(chars) || !chars->valuestring[0])
		return bs_error_set(err, BS_ERR_RULE, "validator charset needs a non-empty string \"chars\"");
	set = bs_xcalloc(256, 1);
	s = (const unsigned char *)chars->valuestring;
	n = strlen(chars->valuestring);
	for (size_t i = 0; i < n; i++) {
		if (i + 2 < n && s[i + 1] == '-') {
			if (s[i + 2] < s[i]) {
				free(set);
				return bs_error_set(err, BS_ERR_RULE, "validator charset: bad range \"%c-%c\"", s[i],
						    s[i + 2]);
			}
			for (unsigned c = s[i]; c <= s[i + 2]; c++)
				set[c] = 1;
			i += 2;
		} else {
			set[s[i]] = 1;
		}
	}
	*params = set;
	return 0;
}

static int charset_check(const void *params, const uint8_t *secret, size_t len)
{
	const unsigned char *set = params;
	for (size_t i = 0; i < len; i++)
		if (!set[secret[i]])
			return 0;
	return len > 0;
}

static const bs_validator_type charset = {
	"charset",
	"every character is in \"chars\" (ranges like A-Z allowed)",
	charset_parse,
	charset_check,
	free,
};

typedef struct len_params {
	int min, max;
} len_params;

static int length_parse(const cJSON *json, void **params, bs_error *err)
{
	len_params *p = bs_xcalloc(1, sizeof(*p));
	if (json_int(json, "min", 1, 1, 1 << 20, &p->min, err) < 0 ||
	    json_int(json, "max", 1 << 20, 1, 1 << 20, &p->max, err) < 0) {
		free(p);
		return BS_ERR_RULE;
	}
	if (p->min > p->max) {
		free(p);
		return bs_error_set(err, BS_ERR_RULE, "validator length: \"min\" is above \"max\"");
	}
	*params = p;
	return 0;
}

static int length_check(const void *params, const uint8_t *secret, size_t len)
{
	const len_params *p = params;
	(void)secret;
	return len >= (size_t)p->min && len <= (size_t)p->max;
}

static const bs_validator_type length = {
	"length",
	"the secret is \"min\" to \"max\" bytes long",
	length_parse,
	length_check,
	free,
};

typedef struct class_params {
	int min_upper, min_lower, min_digit;
} class_params;

static int classes_parse(const cJSON *json, void **params, bs_error *err)
{
	class_params *p = bs_xcalloc(1, sizeof(*p));
	if (json_int(json, "min_upper", 0, 0, 1024, &p->min_upper, err) < 0 ||
	    json_int(json, "min_lower", 0, 0, 1024, &p->min_lower, err) < 0 ||
	    json_int(json, "min_digit", 0, 0, 1024, &p->min_digit, err) < 0) {
		free(p);
		return BS_ERR_RULE;
	}
	*params = p;
	return 0;
}

static int classes_check(const void *params, const uint8_t *secret, size_t len)
{
	const class_params *p = params;
	int u = 0, l = 0, d = 0;
	for (size_t i = 0; i < len; i++) {
		u += secret[i] >= 'A' && secret[i] <= 'Z';
		l += secret[i] >= 'a' && secret[i] <= 'z';
		d += secret[i] >= '0' && secret[i] <= '9';
	}
	return u >= p->min_upper && l >= p->min_lower && d >= p->min_digit;
}

static const bs_validator_type char_classes = {
	"char_classes",
	"at least \"min_upper\" upper-case letters, \"min_lower\" lower-case letters and \"min_digit\" digits "
	"(random base62/base64 of 20+ characters has all three)",
	classes_parse,
	classes_check,
	free,
};

/* ---- entropy_min -------------------------------------------------------- */

typedef struct entropy_params {
	int offset;
	double bits;
} entropy_params;

static int entropy_parse(const cJSON *json, void **params, bs_error *err)
{
	entropy_params *p = bs_xcalloc(1, sizeof(*p));
	if (!cJSON_GetObjectItemCaseSensitive(json, "bits")) {
		free(p);
		return bs_error_set(err, BS_ERR_RULE, "validator entropy_min needs a number \"bits\"");
	}
	if (json_int(json, "offset", 0, 0, 1024, &p->offset, err) < 0 ||
	    json_num(json, "bits", 0, 0, 8, &p->bits, err) < 0) {
		free(p);
		return BS_ERR_RULE;
	}
	*params = p;
	return 0;
}

static int entropy_check(const void *params, const uint8_t *secret, size_t len)
{
	const entropy_params *p = params;
	if (len <= (size_t)p->offset)
		return 0;
	return bs_validate_entropy(secret + p->offset, len - (size_t)p->offset) >= p->bits;
}

static const bs_validator_type entropy_min = {
	"entropy_min",
	"Shannon entropy of the characters from \"offset\" on is at least \"bits\" per character",
	entropy_parse,
	entropy_check,
	free,
};

/* ---- not_placeholder ---------------------------------------------------- */

typedef struct placeholder_params {
	int offset;
	int max_run;      /* longest run of one repeated character allowed */
	int max_sequence; /* longest ascending or descending run (abcd, 1234) allowed */
	char **words;     /* rejected substrings, matched without regard to case */
	size_t n_words;
} placeholder_params;

/* Words long enough that a random token contains one with probability well
 * below 1e-6, yet common in documentation and test fixtures. */
static const char *const default_words[] = { "example", "sample", "placeholder", "redacted", "changeme",
					     "your_",   "yourkey", "insert",      "dummy",    "notreal",
					     "xxxxx",   "fakefake", NULL };

static void placeholder_free(void *pp)
{
	placeholder_params *p = pp;
	if (!p)
		return;
	for (size_t i = 0; i < p->n_words; i++)
		free(p->words[i]);
	free(p->words);
	free(p);
}

static int placeholder_parse(const cJSON *json, void **params, bs_error *err)
{
	placeholder_params *p = bs_xcalloc(1, sizeof(*p));
	const cJSON *words = cJSON_GetObjectItemCaseSensitive(json, "words"), *it;
	size_t n = 0;
	if (json_int(json, "offset", 0, 0, 1024, &p->offset, err) < 0 ||
	    json_int(json, "max_run", 5, 2, 1024, &p->max_run, err) < 0 ||
	    json_int(json, "max_sequence", 5, 2, 1024, &p->max_sequence, err) < 0) {
		placeholder_free(p);
		return BS_ERR_RULE;
	}
	if (words && !cJSON_IsArray(words)) {
		placeholder_free(p);
		return bs_error_set(err, BS_ERR_RULE, "validator not_placeholder: \"words\" must be an array of strings");
	}
	while (default_words[n])
		n++;
	p->words = bs_xcalloc(n + (size_t)cJSON_GetArraySize(words) + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		p->words[p->n_words++] = bs_xstrdup(default_words[i]);
	cJSON_ArrayForEach(it, words)
	{
		if (!cJSON_IsString(it) || !it->valuestring[0]) {
			placeholder_free(p);
			return bs_error_set(err, BS_ERR_RULE,
					    "validator not_placeholder: \"words\" must be an array of strings");
		}
		p->words[p->n_words++] = bs_xstrdup(it->valuestring);
	}
	*params = p;
	return 0;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int contains_nocase(const uint8_t *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++) {
		size_t j = 0;
		while (j < wl && lower(s[i + j]) == lower((unsigned char)w[j]))
			j++;
		if (j == wl)
			return 1;
	}
	return 0;
}

static int alnum_class(int c)
{
	if (c >= '0' && c <= '9')
		return 1;
	if (c >= 'a' && c <= 'z')
		return 2;
	if (c >= 'A' && c <= 'Z')
		return 3;
	return 0;
}

static int placeholder_check(const void *params, const uint8_t *secret, size_t len)
{
	const placeholder_params *p = params;
	const uint8_t *s = secret + p->offset;
	size_t n, run = 1, up = 1, down = 1;
	if (len <= (size_t)p->offset)
		return 0;
	n = len - (size_t)p->offset;
	for (size_t i = 1; i < n; i++) {
		int same_class = alnum_class(s[i]) && alnum_class(s[i]) == alnum_class(s[i - 1]);
		run = s[i] == s[i - 1] ? run + 1 : 1;
		up = same_class && s[i] == s[i - 1] + 1 ? up + 1 : 1;
		down = same_class && s[i] + 1 == s[i - 1] ? down + 1 : 1;
		if (run > (size_t)p->max_run || up > (size_t)p->max_sequence || down > (size_t)p->max_sequence)
			return 0;
	}
	for (size_t i = 0; i < p->n_words; i++)
		if (contains_nocase(s, n, p->words[i]))
			return 0;
	return 1;
}

static const bs_validator_type not_placeholder = {
	"not_placeholder",
	"no run of one character longer than \"max_run\" (5), no sequence like abcdef/123456 longer than "
	"\"max_sequence\" (5), no word such as EXAMPLE, sample, xxxxx, your_ (plus \"words\")",
	placeholder_parse,
	placeholder_check,
	placeholder_free,
};

/* ---- pypi_macaroon ------------------------------------------------------ */

/* A PyPI API token is "pypi-" + base64url(macaroon, binary format v2): the
 * version byte 2, then field 1 (location) "pypi.org" or "test.pypi.org",
 * then field 2 (identifier), each field a type byte and a varint length. */
static int read_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
		uint8_t b = p[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

static int macaroon_parse(const cJSON *json, void **params, bs_error *err)
{
	int *offset = bs_xcalloc(1, sizeof(*offset));
	if (json_int(json, "offset", 5, 0, 64, offset, err) < 0) {
		free(offset);
		return BS_ERR_RULE;
	}
	*params = offset;
	return 0;
}

static int macaroon_check(const void *params, const uint8_t *secret, size_t len)
{
	size_t off = (size_t)*(const int *)params, take, pos = 0;
	bs_buf raw = BS_BUF_INIT;
	const uint8_t *b;
	uint64_t flen;
	int ok = 0;
	if (len <= off)
		return 0;
	/* Decode a whole number of 4-character groups: the header needs < 200. */
	take = (len - off) & ~(size_t)3;
	if (take > 256)
		take = 256;
	if (take < 16 || bs_base64url_decode(&raw, (const char *)secret + off, take) < 0)
		goto out;
	b = (const uint8_t *)raw.ptr;
	if (raw.len < 3 || b[pos++] != 2 || b[pos++] != 1)
		goto out;
	if (read_varint(b, raw.len, &pos, &flen) < 0 || flen > raw.len - pos)
		goto out;
	if (!((flen == 8 && memcmp(b + pos, "pypi.org", 8) == 0) ||
	      (flen == 13 && memcmp(b + pos, "test.pypi.org", 13) == 0)))
		goto out;
	pos += (size_t)flen;
	/* The identifier field follows; it must be non-empty. Its bytes may run
	 * past what we decoded, which is fine: the regex bounds the length. */
	if (pos >= raw.len || b[pos++] != 2 || read_varint(b, raw.len, &pos, &flen) < 0 || flen == 0 || flen > 4096)
		goto out;
	ok = 1;
out:
	bs_buf_free(&raw);
	return ok;
}

static const bs_validator_type pypi_macaroon = {
	"pypi_macaroon",
	"base64url from \"offset\" (5) decodes to a v2 macaroon located at pypi.org or test.pypi.org with an "
	"identifier",
	macaroon_parse,
	macaroon_check,
	free,
};

/* ---- pem_private_key ---------------------------------------------------- */

/* The secret is a whole "-----BEGIN X PRIVATE KEY-----" ... "-----END"
 * block. Its body must decode to what that label promises: an OpenSSH key
 * starts with "openssh-key-v1\0"; every other label is DER, a SEQUENCE whose
 * declared length the decoded bytes cover. Legacy encrypted PEM (with a
 * "DEK-Info:" header) carries ciphertext, so only its size is checked.
 * Bodies copied out of JSON or code strings keep literal "\n" escapes. */
static int pem_check(const void *params, const uint8_t *secret, size_t len)
{
	const uint8_t *p = secret, *end = secret + len, *body, *stop;
	bs_buf b64 = BS_BUF_INIT, raw = BS_BUF_INIT;
	int openssh, encrypted, ok = 0;
	(void)params;
	body = memmem(p, len, "-----", 5);
	if (!body || !(body = memmem(body + 5, (size_t)(end - body - 5), "-----", 5)))
		return 0;
	openssh = memmem(secret, (size_t)(body - secret), "OPENSSH", 7) != NULL;
	body += 5;
	stop = memmem(body, (size_t)(end - body), "-----END", 8);
	if (!stop)
		stop = end;
	encrypted = memmem(body, (size_t)(stop - body), "DEK-Info:", 9) != NULL;
	for (const uint8_t *q = body; q < stop; q++) {
		if (*q == '\\' && q + 1 < stop && (q[1] == 'n' || q[1] == 'r')) {
			if (q[1] == 'n')
				bs_buf_addch(&b64, '\n');
			q++;
		} else if (*q == ':') {
			/* An RFC 1421 header line: drop what it contributed. */
			while (b64.len && b64.ptr[b64.len - 1] != '\n')
				b64.len--;
			while (q < stop && *q != '\n' && !(*q == '\\' && q + 1 < stop && q[1] == 'n'))
				q++;
			q--;
		} else if (*q == '\n') {
			bs_buf_addch(&b64, '\n');
		} else if (bs_is_base64url_char(*q) || *q == '+' || *q == '/' || *q == '=') {
			bs_buf_addch(&b64, *q);
		} else if (*q != ' ' && *q != '\t' && *q != '\r') {
			goto out;
		}
	}
	{
		/* Drop the line markers kept for header handling. */
		size_t j = 0;
		for (size_t i = 0; i < b64.len; i++)
			if (b64.ptr[i] != '\n')
				b64.ptr[j++] = b64.ptr[i];
		bs_buf_truncate(&b64, j);
	}
	if (bs_base64_decode(&raw, b64.ptr, b64.len) < 0 || raw.len < 32)
		goto out;
	if (encrypted) {
		ok = 1;
	} else if (openssh) {
		ok = raw.len >= 15 && memcmp(raw.ptr, "openssh-key-v1\0", 15) == 0;
	} else {
		const uint8_t *d = (const uint8_t *)raw.ptr;
		size_t declared = 0, hdr = 2;
		if (d[0] != 0x30)
			goto out;
		if (d[1] < 0x80) {
			declared = d[1];
		} else {
			size_t nl = d[1] & 0x7f;
			if (nl == 0 || nl > 3)
				goto out;
			for (size_t i = 0; i < nl; i++)
				declared = declared << 8 | d[2 + i];
			hdr += nl;
		}
		ok = declared >= 16 && raw.len >= hdr + declared;
	}
out:
	bs_buf_free_secure(&b64);
	bs_buf_free_secure(&raw);
	return ok;
}

static const bs_validator_type pem_private_key = {
	"pem_private_key",
	"the PEM block's base64 body decodes to a DER SEQUENCE of the declared length (or an openssh-key-v1 key)",
	NULL,
	pem_check,
	NULL,
};

/* ---- pgp_private_key ---------------------------------------------------- */

/* OpenPGP armor (RFC 4880 section 6): "-----BEGIN PGP PRIVATE KEY BLOCK-----",
 * optional "Name: value" headers, base64 data, an optional "=XXXX" line with
 * the CRC-24 of the data, the END line. The data must start with a secret-key
 * packet (tag 5, old or new packet format); when the checksum line is there
 * (RFC 9580 makes it optional) it must match. */
static uint32_t crc24(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xb704ceu;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint32_t)p[i] << 16;
		for (int j = 0; j < 8; j++) {
			crc <<= 1;
			if (crc & 0x1000000u)
				crc ^= 0x1864cfbu;
		}
	}
	return crc & 0xffffffu;
}

static int pgp_check(const void *params, const uint8_t *secret, size_t len)
{
	const uint8_t *p, *end = secret + len, *stop;
	bs_buf b64 = BS_BUF_INIT, raw = BS_BUF_INIT, sum = BS_BUF_INIT, line = BS_BUF_INIT;
	int ok = 0, have_sum = 0;
	(void)params;
	p = memmem(secret, len, "BLOCK-----", 10);
	if (!p)
		return 0;
	p += 10;
	stop = memmem(p, (size_t)(end - p), "-----END", 8);
	if (!stop)
		stop = end;
	/* Walk the lines; bodies copied out of code keep literal "\n" escapes. */
	while (p <= stop) {
		const uint8_t *q = p;
		int esc = 0;
		while (q < stop && *q != '\n' && !(*q == '\\' && q + 1 < stop && (q[1] == 'n' || q[1] == 'r')))
			q++;
		if (q < stop && *q == '\\')
			esc = 1;
		bs_buf_reset(&line);
		for (const uint8_t *c = p; c < q; c++)
			if (*c != ' ' && *c != '\t' && *c != '\r')
				bs_buf_addch(&line, *c);
		if (memchr(line.ptr, ':', line.len)) {
			/* An armor header line ("Version: ...", "Comment: ..."). */
		} else if (line.len == 5 && line.ptr[0] == '=') {
			bs_buf_add(&sum, line.ptr + 1, 4);
			have_sum = 1;
		} else {
			bs_buf_add(&b64, line.ptr, line.len);
		}
		if (q >= stop)
			break;
		p = q + (esc ? 2 : 1);
	}
	if (bs_base64_decode(&raw, b64.ptr, b64.len) < 0 || raw.len < 32)
		goto out;
	{
		uint8_t tag = (uint8_t)raw.ptr[0];
		if (!(tag == 0xc5 || (tag >= 0x94 && tag <= 0x97)))
			goto out;
	}
	if (have_sum) {
		bs_buf want = BS_BUF_INIT;
		uint32_t crc = crc24((const uint8_t *)raw.ptr, raw.len);
		int good = bs_base64_decode(&want, sum.ptr, sum.len) == 0 && want.len == 3 &&
			   (((uint32_t)(uint8_t)want.ptr[0] << 16) | ((uint32_t)(uint8_t)want.ptr[1] << 8) |
			    (uint8_t)want.ptr[2]) == crc;
		bs_buf_free(&want);
		if (!good)
			goto out;
	}
	ok = 1;
out:
	bs_buf_free_secure(&b64);
	bs_buf_free_secure(&raw);
	bs_buf_free(&sum);
	bs_buf_free_secure(&line);
	return ok;
}

static const bs_validator_type pgp_private_key = {
	"pgp_private_key",
	"the armored block decodes to an OpenPGP secret-key packet and matches its CRC-24 checksum line if present",
	NULL,
	pgp_check,
	NULL,
};

/* ---- registry ----------------------------------------------------------- */

static const bs_validator_type *const types[] = {
	&last_char_in, &crc32_base62, &crc32_hex,	&charset,	  &length,
	&char_classes, &entropy_min,  &not_placeholder, &pypi_macaroon, &pem_private_key,
	&pgp_private_key, NULL,
};

const bs_validator_type *const *bs_validator_types(void)
{
	return types;
}

const bs_validator_type *bs_validator_type_find(const char *name)
{
	for (size_t i = 0; types[i]; i++)
		if (strcmp(types[i]->name, name) == 0)
			return types[i];
	return NULL;
}

int bs_validator_parse(struct bs_validator *v, const cJSON *json, bs_error *err)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
	v->type = NULL;
	v->params = NULL;
	if (!cJSON_IsObject(json) || !cJSON_IsString(type))
		return bs_error_set(err, BS_ERR_RULE, "a validator must be an object with a string \"type\"");
	v->type = bs_validator_type_find(type->valuestring);
	if (!v->type)
		return bs_error_set(err, BS_ERR_RULE, "unknown validator type \"%s\"", type->valuestring);
	return v->type->parse ? v->type->parse(json, &v->params, err) : 0;
}

void bs_validator_clear(struct bs_validator *v)
{
	if (v->type && v->type->free_params && v->params)
		v->type->free_params(v->params);
	v->type = NULL;
	v->params = NULL;
}

int bs_validators_run(const struct bs_validator *vs, size_t n, const uint8_t *secret, size_t len,
		      const char **failed)
{
	for (size_t i = 0; i < n; i++) {
		if (!vs[i].type->check(vs[i].params, secret, len)) {
			if (failed)
				*failed = vs[i].type->name;
			return 0;
		}
	}
	return 1;
}
