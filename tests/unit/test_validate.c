/* Validators against known vectors. The checksum vectors were computed with
 * Python's zlib.crc32 and base64 (an implementation independent of
 * scanner/validate.c, see scripts/gen-rule-examples.py); the base62 scheme
 * was also cross-checked against the example token published with GitHub's
 * format description. Every token here is a fixture, never issued; each is
 * split into two adjacent string literals so that the repository's own scan
 * (which must report nothing) does not see a token in this source. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/base64.h"
#include "common/buf.h"
#include "scanner/validate.h"

/* Parses a validator from JSON text; aborts the test on a parse error. */
static struct bs_validator make(const char *json)
{
	struct bs_validator v;
	bs_error err = BS_ERROR_INIT;
	cJSON *j = cJSON_Parse(json);
	cr_assert_not_null(j, "bad JSON in test: %s", json);
	cr_assert_eq(bs_validator_parse(&v, j, &err), 0, "%s: %s", json, err.message);
	cJSON_Delete(j);
	return v;
}

static int passes(const char *json, const char *secret)
{
	struct bs_validator v = make(json);
	int ok = v.type->check(v.params, (const uint8_t *)secret, strlen(secret));
	bs_validator_clear(&v);
	return ok;
}

static int parse_fails(const char *json)
{
	struct bs_validator v;
	bs_error err = BS_ERROR_INIT;
	cJSON *j = cJSON_Parse(json);
	int rc = bs_validator_parse(&v, j, &err);
	cJSON_Delete(j);
	bs_validator_clear(&v);
	return rc < 0 && err.message[0];
}

Test(crc32, standard_check_values)
{
	cr_assert_eq(bs_validate_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
	cr_assert_eq(bs_validate_crc32((const uint8_t *)"", 0), 0u);
	cr_assert_eq(bs_validate_crc32((const uint8_t *)"FAKE0bstscan0unit0test0vector0", 30), 0xefdab220u);
}

#define GH "{\"type\": \"crc32_base62\", \"data_offset\": 4, \"checksum_length\": 6}"

Test(crc32_base62, github_and_npm_vectors)
{
	cr_assert(passes(GH, "gh" "p_FAKE0bstscan0unit0test0vector04OKesC"));
	cr_assert(passes(GH, "np" "m_npmFixtureTokenForBstscanTest11CVwi9"));
	/* CRC32 below 62^5: the base62 form is left-padded with '0'. */
	cr_assert(passes(GH, "gh" "o_DoNotUseThisIsATestVector123450UpspY"));
	cr_assert(passes(GH, "gh" "s_FixtureLeadingZeroChecksum00000JpLUi"));
}

Test(crc32_base62, rejects_any_change)
{
	cr_assert_not(passes(GH, "gh" "p_FAKE0bstscan0unit0test0vector04OKesD"));  /* checksum digit */
	cr_assert_not(passes(GH, "gh" "p_FAKE0bstscan0unit0test0vector14OKesC"));  /* body */
	cr_assert_not(passes(GH, "gh" "p_DoNotUseThisIsATestVector12345UpspY"));   /* padding '0' dropped */
	cr_assert_not(passes(GH, "gh" "p_FAKE0bstscan0unit0test0vector04OKes_"));  /* not base62 */
	cr_assert_not(passes(GH, "gh" "p_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	cr_assert_not(passes(GH, "gh" "p_0JpLUi"));                               /* nothing to checksum */
	cr_assert_not(passes(GH, "gh" "p_"));
}

Test(crc32_base62, data_offset_selects_the_checksummed_part)
{
	/* The prefix is not part of the checksum: with offset 0 the same token fails. */
	cr_assert_not(passes("{\"type\": \"crc32_base62\"}", "gh" "p_FAKE0bstscan0unit0test0vector04OKesC"));
	cr_assert(passes("{\"type\": \"crc32_base62\"}", "FAKE0bstscan0unit0test0vector04OKesC"));
	cr_assert(parse_fails("{\"type\": \"crc32_base62\", \"checksum_length\": 7}"));
	cr_assert(parse_fails("{\"type\": \"crc32_base62\", \"data_offset\": -1}"));
	cr_assert(parse_fails("{\"type\": \"crc32_base62\", \"data_offset\": \"4\"}"));
}

#define GRAFANA "{\"type\": \"crc32_hex\", \"separator\": 1, \"byte_order\": \"little\"}"
#define ATLASSIAN "{\"type\": \"crc32_hex\"}"

Test(crc32_hex, grafana_little_endian)
{
	cr_assert(passes(GRAFANA, "gl" "sa_FixtureGrafanaServiceAccountTok0_edacff85"));
	cr_assert(passes(GRAFANA, "gl" "sa_FixtureGrafanaServiceAccountTok0_EDACFF85"));
	cr_assert_not(passes(GRAFANA, "gl" "sa_FixtureGrafanaServiceAccountTok0_85ffaced")); /* big-endian */
	cr_assert_not(passes(GRAFANA, "gl" "sa_FixtureGrafanaServiceAccountTok1_edacff85"));
	cr_assert_not(passes(GRAFANA, "gl" "sa_FixtureGrafanaServiceAccountTok0_edacff8g"));
}

Test(crc32_hex, atlassian_big_endian_including_equals)
{
	const char *t = "ATA" "TT3xFfGF0FixtureAtlassianTokenBodyForBstscanUnitTests-not_real_0123456789=F1ADEA9F";
	cr_assert(passes(ATLASSIAN, t));
	cr_assert_not(passes(ATLASSIAN,
			     "ATA" "TT3xFfGF0FixtureAtlassianTokenBodyForBstscanUnitTests-not_real_0123456789=F1ADEA9E"));
	cr_assert_not(passes(ATLASSIAN, "F1ADEA9F"));
	cr_assert(parse_fails("{\"type\": \"crc32_hex\", \"byte_order\": \"middle\"}"));
	cr_assert(parse_fails("{\"type\": \"crc32_hex\", \"checksum_length\": 6}"));
}

Test(last_char_in, base64_padding_bits)
{
	const char *v = "{\"type\": \"last_char_in\", \"chars\": \"AEIMQUYcgkosw048\"}";
	cr_assert(passes(v, "bs" "t_FAKE0test0token0for0bstscan0examples000000A"));
	cr_assert_not(passes(v, "bs" "t_FAKE0test0token0for0bstscan0examples000000B"));
	cr_assert_not(passes(v, ""));
	cr_assert(parse_fails("{\"type\": \"last_char_in\"}"));
}

Test(charset, ranges_and_literal_dash)
{
	const char *v = "{\"type\": \"charset\", \"chars\": \"A-Za-z0-9_-\"}";
	cr_assert(passes(v, "abc_XYZ-019"));
	cr_assert_not(passes(v, "abc.def"));
	cr_assert_not(passes(v, "abc def"));
	cr_assert_not(passes(v, ""));
	cr_assert(passes("{\"type\": \"charset\", \"chars\": \"a-f0-9\"}", "deadbeef0123"));
	cr_assert_not(passes("{\"type\": \"charset\", \"chars\": \"a-f0-9\"}", "deadbeeg"));
	cr_assert(parse_fails("{\"type\": \"charset\", \"chars\": \"z-a\"}"));
	cr_assert(parse_fails("{\"type\": \"charset\"}"));
}

Test(length, bounds)
{
	const char *v = "{\"type\": \"length\", \"min\": 3, \"max\": 5}";
	cr_assert_not(passes(v, "ab"));
	cr_assert(passes(v, "abc"));
	cr_assert(passes(v, "abcde"));
	cr_assert_not(passes(v, "abcdef"));
	cr_assert(parse_fails("{\"type\": \"length\", \"min\": 5, \"max\": 3}"));
}

Test(char_classes, counts)
{
	const char *v = "{\"type\": \"char_classes\", \"min_upper\": 1, \"min_lower\": 1, \"min_digit\": 2}";
	cr_assert(passes(v, "aB12"));
	cr_assert_not(passes(v, "aB1"));
	cr_assert_not(passes(v, "ab12"));
	cr_assert_not(passes(v, "AB12"));
	/* An all-lower-case 40-character hex digest is not an AWS secret key. */
	cr_assert_not(passes("{\"type\": \"char_classes\", \"min_upper\": 1, \"min_lower\": 1}",
			     "3f786850e387550fdab836ed7e6dc881de23001b"));
}

Test(entropy, known_values)
{
	cr_assert_float_eq(bs_validate_entropy((const uint8_t *)"aaaa", 4), 0.0, 1e-9);
	cr_assert_float_eq(bs_validate_entropy((const uint8_t *)"aabb", 4), 1.0, 1e-9);
	cr_assert_float_eq(bs_validate_entropy((const uint8_t *)"abcd", 4), 2.0, 1e-9);
	cr_assert_float_eq(bs_validate_entropy((const uint8_t *)"abcdefgh", 8), 3.0, 1e-9);
	/* p = 1/4, 3/4: 0.811278124459... */
	cr_assert_float_eq(bs_validate_entropy((const uint8_t *)"abbb", 4), 0.8112781244591328, 1e-9);
	cr_assert_float_eq(bs_validate_entropy((const uint8_t *)"", 0), 0.0, 1e-9);
}

Test(entropy_min, offset_and_threshold)
{
	const char *v = "{\"type\": \"entropy_min\", \"bits\": 3.0, \"offset\": 4}";
	cr_assert(passes(v, "xxxxabcdefgh"));
	cr_assert_not(passes(v, "abcdaaaabbbb"));
	cr_assert_not(passes(v, "abcd"));
	cr_assert(parse_fails("{\"type\": \"entropy_min\"}"));
	cr_assert(parse_fails("{\"type\": \"entropy_min\", \"bits\": 9}"));
}

Test(not_placeholder, rejects_documentation_values)
{
	const char *v = "{\"type\": \"not_placeholder\", \"offset\": 4}";
	cr_assert_not(passes(v, "AKIAIOSFODNN7EXAMPLE"));
	cr_assert_not(passes(v, "gh" "p_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	cr_assert_not(passes(v, "sk_live_0000000000000000"));
	cr_assert_not(passes(v, "tok_abc123456789zz"));  /* ascending digits */
	cr_assert_not(passes(v, "tok_zyxwvutQ"));         /* descending letters */
	cr_assert_not(passes(v, "tok_Your_Api_Key_Here"));
	cr_assert_not(passes(v, "tok_REDACTED"));
	cr_assert(passes(v, "gh" "p_FAKE0bstscan0unit0test0vector04OKesC"));
	/* The prefix before offset is not examined. */
	cr_assert(passes(v, "xxxxaB3dE5gH"));
	cr_assert_not(passes("{\"type\": \"not_placeholder\"}", "xxxxxxaB3dE5gH"));
}

Test(not_placeholder, limits_and_extra_words)
{
	const char *v = "{\"type\": \"not_placeholder\", \"max_run\": 7, \"max_sequence\": 7, \"words\": [\"Fixture\"]}";
	cr_assert(passes(v, "a000000b1234567c"));     /* run of 6 and sequence of 7 allowed */
	cr_assert_not(passes(v, "a00000000b"));       /* run of 8 */
	cr_assert_not(passes(v, "a12345678b"));       /* sequence of 8 */
	cr_assert_not(passes(v, "q9FIXTUREw"));
	cr_assert(parse_fails("{\"type\": \"not_placeholder\", \"words\": \"x\"}"));
	cr_assert(parse_fails("{\"type\": \"not_placeholder\", \"words\": [1]}"));
}

#define PYPI_OK                                                                                                   \
	"py" "pi-AgEIcHlwaS5vcmcCM3sibm9uY2UiOiAiZml4dHVyZS1ub3QtYS1yZWFsLXRva2VuIiwgInZlcnNpb24iOiAxfQAABiAAAQIDBAUGBwgJ" \
	"CgsMDQ4PEBESExQVFhcYGRobHB0eHw"

Test(pypi_macaroon, header_and_identifier)
{
	const char *v = "{\"type\": \"pypi_macaroon\"}";
	cr_assert(passes(v, PYPI_OK));
	/* Location evil.org. */
	cr_assert_not(passes(v, "py" "pi-AgEIZXZpbC5vcmcCM3sibm9uY2UiOiAiZml4dHVyZS1ub3QtYS1yZWFsLXRva2VuIiwgInZlcnNpb24iOiAx"
				"fQAABiAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw"));
	/* Field 4 where the identifier (field 2) belongs. */
	cr_assert_not(passes(v, "py" "pi-AgEIcHlwaS5vcmcEAAAGIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"));
	cr_assert_not(passes(v, "py" "pi-AgEIcHlwaS5vcmcxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	cr_assert_not(passes(v, "py" "pi-AgEIcHlwaS5vcmc"));
	cr_assert_not(passes(v, "pypi-"));
}

static char *make_pem(const char *label, const uint8_t *der, size_t n, const char *nl)
{
	bs_buf b64 = BS_BUF_INIT, out = BS_BUF_INIT;
	bs_base64_encode(&b64, der, n);
	bs_buf_addf(&out, "-----BEGIN %s-----%s", label, nl);
	for (size_t i = 0; i < b64.len; i += 64) {
		bs_buf_add(&out, b64.ptr + i, b64.len - i < 64 ? b64.len - i : 64);
		bs_buf_adds(&out, nl);
	}
	bs_buf_addf(&out, "-----END %s-----", label);
	bs_buf_free(&b64);
	return bs_buf_detach(&out, NULL);
}

Test(pem_private_key, der_sequence_of_declared_length)
{
	uint8_t der[300];
	const char *v = "{\"type\": \"pem_private_key\"}";
	char *pem;
	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (uint8_t)(i * 7 + 3);
	der[0] = 0x30;
	der[1] = 0x82;
	der[2] = 0x01;
	der[3] = 0x28; /* 296 bytes follow the 4-byte header */
	pem = make_pem("RSA PRIVATE KEY", der, sizeof(der), "\n");
	cr_assert(passes(v, pem));
	free(pem);
	pem = make_pem("PRIVATE KEY", der, sizeof(der), "\\n"); /* escaped inside a JSON string */
	cr_assert(passes(v, pem));
	free(pem);
	pem = make_pem("PRIVATE KEY", der, sizeof(der) - 10, "\r\n"); /* truncated body */
	cr_assert_not(passes(v, pem));
	free(pem);
	der[0] = 0x31;
	pem = make_pem("EC PRIVATE KEY", der, sizeof(der), "\n"); /* not a SEQUENCE */
	cr_assert_not(passes(v, pem));
	free(pem);
	cr_assert_not(passes(v, "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA...\n-----END RSA PRIVATE KEY-----"));
}

Test(pem_private_key, openssh_and_legacy_encrypted)
{
	uint8_t raw[200];
	const char *v = "{\"type\": \"pem_private_key\"}";
	char *pem;
	bs_buf b = BS_BUF_INIT;
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 13 + 1);
	memcpy(raw, "openssh-key-v1", 15);
	pem = make_pem("OPENSSH PRIVATE KEY", raw, sizeof(raw), "\n");
	cr_assert(passes(v, pem));
	free(pem);
	raw[0] = 'O';
	pem = make_pem("OPENSSH PRIVATE KEY", raw, sizeof(raw), "\n");
	cr_assert_not(passes(v, pem));
	free(pem);
	/* Legacy encrypted PEM: headers, then ciphertext that is not DER. */
	bs_buf_adds(&b, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
			"DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n");
	bs_base64_encode(&b, raw, sizeof(raw));
	bs_buf_adds(&b, "\n-----END RSA PRIVATE KEY-----");
	cr_assert(passes(v, b.ptr));
	bs_buf_free(&b);
}

/* An armored block around data[0, n) with an optional checksum line. The
 * CRC-24 vector (rM14 for this data) was computed in Python; the OpenPGP
 * CRC-24 of "123456789" there is 0x21cf02, the standard check value. */
static char *make_pgp(const uint8_t *data, size_t n, const char *sum_line)
{
	bs_buf out = BS_BUF_INIT;
	bs_buf_adds(&out, "-----BEGIN PGP PRIVATE KEY BLOCK-----\nComment: fixture\n\n");
	bs_base64_encode(&out, data, n);
	bs_buf_addch(&out, '\n');
	if (sum_line)
		bs_buf_addf(&out, "%s\n", sum_line);
	bs_buf_adds(&out, "-----END PGP PRIVATE KEY BLOCK-----");
	return bs_buf_detach(&out, NULL);
}

Test(pgp_private_key, packet_tag_and_crc24)
{
	uint8_t data[61];
	const char *v = "{\"type\": \"pgp_private_key\"}";
	char *b;
	data[0] = 0xc5;
	for (size_t i = 0; i < 60; i++)
		data[i + 1] = (uint8_t)(i * 11 + 5);
	b = make_pgp(data, sizeof(data), "=rM14");
	cr_assert(passes(v, b));
	free(b);
	b = make_pgp(data, sizeof(data), NULL); /* RFC 9580: the checksum is optional */
	cr_assert(passes(v, b));
	free(b);
	b = make_pgp(data, sizeof(data), "=rM15");
	cr_assert_not(passes(v, b));
	free(b);
	data[0] = 0xc6; /* tag 6: a public key packet */
	b = make_pgp(data, sizeof(data), NULL);
	cr_assert_not(passes(v, b));
	free(b);
	data[0] = 0x95; /* old packet format, tag 5 */
	b = make_pgp(data, sizeof(data), NULL);
	cr_assert(passes(v, b));
	free(b);
	b = make_pgp(data, 20, NULL); /* too short to be a key */
	cr_assert_not(passes(v, b));
	free(b);
}

Test(registry, every_type_is_documented_and_unique)
{
	const bs_validator_type *const *t = bs_validator_types();
	size_t n = 0;
	for (; t[n]; n++) {
		cr_assert_not_null(t[n]->summary);
		cr_assert_not_null(t[n]->check);
		cr_assert_eq(bs_validator_type_find(t[n]->name), t[n]);
	}
	cr_assert_geq(n, 10);
	cr_assert_null(bs_validator_type_find("no_such_validator"));
	cr_assert(parse_fails("{\"type\": \"no_such_validator\"}"));
	cr_assert(parse_fails("{\"kind\": \"charset\"}"));
}

Test(run, reports_the_first_failing_validator)
{
	struct bs_validator vs[2];
	const char *failed = NULL;
	vs[0] = make("{\"type\": \"length\", \"min\": 4}");
	vs[1] = make("{\"type\": \"charset\", \"chars\": \"a-z\"}");
	cr_assert_eq(bs_validators_run(vs, 2, (const uint8_t *)"abcd", 4, &failed), 1);
	cr_assert_eq(bs_validators_run(vs, 2, (const uint8_t *)"abc", 3, &failed), 0);
	cr_assert_str_eq(failed, "length");
	cr_assert_eq(bs_validators_run(vs, 2, (const uint8_t *)"abcD", 4, &failed), 0);
	cr_assert_str_eq(failed, "charset");
	bs_validator_clear(&vs[0]);
	bs_validator_clear(&vs[1]);
}
