#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))
#include <immintrin.h>
#define PF_X86 1
#else
#define PF_X86 0
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define PF_NEON 1
#else
#define PF_NEON 0
#endif
/* Other architectures build the scalar strategy only. */
#define PF_SIMD (PF_X86 || PF_NEON)

#include "common/buf.h"
#include "scanner/prefilter.h"
#include "common/banned.h"

/* Design (as Hyperscan's and ripgrep's "Teddy"): each keyword's first PF_FP
 * bytes are a fingerprint; keywords are grouped into 8 buckets, and for every
 * fingerprint position j two 16-entry tables map the low and the high nibble of
 * a byte to the set of buckets whose j-th byte may have that nibble. PSHUFB
 * (TBL on AArch64) looks up 16 or 32 bytes at once; ANDing the PF_FP shifted lookups leaves, per
 * offset, the buckets whose fingerprint may start there. Only those offsets are
 * verified exactly. Nibble sets over-approximate (a bucket holding 'A' and 'S'
 * also accepts 'C' and 'Q'), so which keywords share a bucket decides how many
 * candidates are false: buckets are chosen greedily to minimise the expected
 * verification work under a byte-pair (Markov) model of source code.
 *
 * With AVX-512 VBMI, VPERMI2B looks each byte up in a 256-entry table per
 * position instead (exact byte sets, no nibble aliasing; buckets are then
 * chosen for byte sets), 64 offsets at a time. On source text a candidate is
 * in a random ~5-20% of 64-byte blocks, so the x86 loops queue blocks
 * branch-free and verify them per 2 KB segment.
 *
 * The portable fallback (and the tails of the SIMD scans) tests, at each offset,
 * a hashed bitmap of the first four bytes of the keywords (and a bigram bitmap
 * for keywords shorter than four bytes), then verifies the keywords starting
 * with that byte. It is also chosen when the keywords are so many that every
 * Teddy bucket would fire nearly everywhere. */

#define PF_FP 4
#define PF_QUAD_BITS 16
/* Teddy is used when the modelled share of offsets where some bucket fires
 * stays below this; above, the scalar filter is faster. On source text the
 * 82 keywords of rules/ model at 0.003 (measured: 0.0036); 200 random
 * alphanumeric keywords model at 0.34, where Teddy runs at half the scalar speed. */
#define PF_TEDDY_MAX_FIRE 0.05
#define PF_BUCKETS 8
/* Beyond this many distinct fingerprints, neighbours (in sorted order) are
 * pre-merged so that the quadratic grouping stays cheap at startup. */
#define PF_MAX_GROUPS 128
/* The modelled share of 64-byte blocks with a candidate above which the SIMD
 * loops queue blocks branch-free. On tree-500 with the rules/ keywords (~20%
 * of blocks): AVX2 4.7 -> 6.3-7.1 GB/s; with "bst_" alone the branch is faster
 * (10.4 vs 9.6 GB/s). */
#define PF_BRANCH_FREE_MIN 0.02

typedef struct pf_keyword {
	uint8_t *bytes; /* lowercased where nocase */
	uint8_t *orb;   /* 0x20 at the letters of a nocase keyword (NULL: exact) */
	size_t len;
} pf_keyword;

/* The keywords of a bucket, as parallel arrays padded to a multiple of
 * PF_LANES so that one SIMD compare checks the first four bytes of 8 keywords
 * (padding never matches: head_and 0, head ~0). For entry e and the 4 bytes x
 * at a candidate, ((x | head_or) & head_and) == head <=> the keyword's first
 * min(len, 4) bytes match: head_or is 0x20 at nocase letters, and x | 0x20
 * equals a lowercase letter exactly when x is that letter in either case. */
#define PF_LANES 8
typedef struct pf_entries {
	uint32_t *head, *head_and, *head_or, *idx;
} pf_entries;

typedef int (*pf_scan_fn)(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud);

struct bs_prefilter {
	pf_keyword *kw;
	size_t n;
	/* Scalar path: bitmaps indexed by the bigram buf[p] | buf[p+1] << 8, of
	 * all keywords (any_bigram) and of those shorter than four bytes
	 * (short_bigram; a one-byte keyword sets every bigram it starts), and by a
	 * hash of the first four bytes of the longer ones (quad; every case
	 * variant of nocase ones). by_first[first[b] .. first[b+1]) lists the
	 * keywords whose first byte may be b. */
	uint8_t any_bigram[65536 / 8];
	uint8_t short_bigram[65536 / 8];
	uint8_t quad[(1u << PF_QUAD_BITS) / 8];
	uint32_t first[257];
	uint32_t *by_first;
	/* SIMD path: nibble tables per fingerprint position, and the entries of
	 * each bucket in ent[bucket_start[b] .. bucket_start[b+1]). */
	uint8_t lo[PF_FP][16];
	uint8_t hi[PF_FP][16];
	/* The exact bucket sets for every byte value at each fingerprint position
	 * (the AVX-512 VBMI path looks bytes up in all 256 entries, so nibble
	 * pairs never alias: far fewer false candidates). */
	uint8_t exact[PF_FP][256];
	int exact_high_uniform; /* exact[j][128 .. 255] all equal exact[j][128], for every j */
	/* Queue every block without a branch on whether it has a candidate:
	 * chosen when the modelled share of such blocks makes that branch
	 * mispredict often; a branch is cheaper when candidates are rare. */
	int branch_free;
	pf_entries ent;
	uint32_t bucket_start[PF_BUCKETS + 1];
	pf_scan_fn scan;
	const char *strategy;
};

static inline uint8_t fold(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static inline int is_lower(uint8_t c)
{
	return c >= 'a' && c <= 'z';
}

/* The bytes that keyword k accepts at position j (1 or 2 of them). */
static int variants(const pf_keyword *k, size_t j, uint8_t out[2])
{
	out[0] = k->bytes[j];
	if (k->orb && is_lower(k->bytes[j])) {
		out[1] = (uint8_t)(k->bytes[j] - 32);
		return 2;
	}
	return 1;
}

static inline int tail_matches(const pf_keyword *k, const uint8_t *p, size_t from)
{
	if (!k->orb)
		return memcmp(k->bytes + from, p + from, k->len - from) == 0;
	for (size_t i = from; i < k->len; i++)
		if ((uint8_t)(p[i] | k->orb[i]) != k->bytes[i])
			return 0;
	return 1;
}

/* ---- scalar ---- */

static inline unsigned quad_hash(uint32_t w)
{
	return (w * 0x9E3779B1u) >> (32 - PF_QUAD_BITS);
}

static inline int bit_test(const uint8_t *bits, unsigned i)
{
	return bits[i >> 3] & (1u << (i & 7));
}

static inline void bit_set(uint8_t *bits, unsigned i)
{
	bits[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Reports the keywords starting with buf[p] that match at p. */
static inline int verify_first(const bs_prefilter *pf, const uint8_t *buf, size_t len, size_t p, bs_prefilter_cb cb,
                               void *ud)
{
	uint32_t lo = pf->first[buf[p]], hi = pf->first[buf[p] + 1];
	for (uint32_t j = lo; j < hi; j++) {
		const pf_keyword *k = &pf->kw[pf->by_first[j]];
		if (k->len <= len - p && tail_matches(k, buf + p, 0)) {
			int rc = cb(ud, pf->by_first[j], p);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Scans offsets [from, len) one by one. Also finishes the tail of the SIMD scans. */
static int scan_scalar_from(const bs_prefilter *pf, const uint8_t *buf, size_t len, size_t from, bs_prefilter_cb cb,
                            void *ud)
{
	size_t p = from;
	for (; p + 4 <= len; p++) {
		unsigned w2 = buf[p] | (unsigned)buf[p + 1] << 8;
		if (!bit_test(pf->any_bigram, w2))
			continue;
		if (!bit_test(pf->short_bigram, w2)) {
			uint32_t w;
			memcpy(&w, buf + p, 4);
			if (!bit_test(pf->quad, quad_hash(w)))
				continue;
		}
		int rc = verify_first(pf, buf, len, p, cb, ud);
		if (rc)
			return rc;
	}
	/* The last three offsets: only keywords shorter than four bytes fit, so no filter is needed. */
	for (; p < len; p++) {
		int rc = verify_first(pf, buf, len, p, cb, ud);
		if (rc)
			return rc;
	}
	return 0;
}

static int scan_scalar(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud)
{
	return scan_scalar_from(pf, buf, len, 0, cb, ud);
}

static int starts_with(const pf_keyword *k, unsigned b)
{
	return k->orb ? fold((uint8_t)b) == k->bytes[0] : b == k->bytes[0];
}

static void build_scalar(bs_prefilter *pf)
{
	size_t total = 0;
	for (unsigned b = 0; b < 256; b++) {
		pf->first[b] = (uint32_t)total;
		for (size_t i = 0; i < pf->n; i++)
			total += starts_with(&pf->kw[i], b);
	}
	pf->first[256] = (uint32_t)total;
	pf->by_first = bs_xmalloc((total ? total : 1) * sizeof(*pf->by_first));
	size_t at = 0;
	for (unsigned b = 0; b < 256; b++)
		for (size_t i = 0; i < pf->n; i++)
			if (starts_with(&pf->kw[i], b))
				pf->by_first[at++] = (uint32_t)i;

	for (size_t i = 0; i < pf->n; i++) {
		const pf_keyword *k = &pf->kw[i];
		if (k->len >= 4) {
			/* Every case variant of the first four bytes: at most 16. */
			uint8_t v[4][2];
			int nv[4];
			for (size_t j = 0; j < 4; j++)
				nv[j] = variants(k, j, v[j]);
			for (int a = 0; a < nv[0]; a++)
				for (int b = 0; b < nv[1]; b++)
					for (int c = 0; c < nv[2]; c++)
						for (int d = 0; d < nv[3]; d++) {
							uint8_t q[4] = {v[0][a], v[1][b], v[2][c], v[3][d]};
							uint32_t w;
							memcpy(&w, q, 4);
							bit_set(pf->quad, quad_hash(w));
							bit_set(pf->any_bigram, q[0] | (unsigned)q[1] << 8);
						}
			continue;
		}
		uint8_t v0[2], v1[2];
		int n0 = variants(k, 0, v0);
		for (int a = 0; a < n0; a++) {
			if (k->len == 1) {
				for (unsigned c = 0; c < 256; c++) {
					bit_set(pf->short_bigram, v0[a] | c << 8);
					bit_set(pf->any_bigram, v0[a] | c << 8);
				}
				continue;
			}
			int n1 = variants(k, 1, v1);
			for (int b = 0; b < n1; b++) {
				bit_set(pf->short_bigram, v0[a] | (unsigned)v1[b] << 8);
				bit_set(pf->any_bigram, v0[a] | (unsigned)v1[b] << 8);
			}
		}
	}
}

#if PF_SIMD
/* ---- bucket assignment ---- */

/* Byte frequencies (per 65536, at least 1) of C headers and Python and Perl
 * sources (/usr/include, /usr/lib/python3, /usr/share/perl). They only steer
 * which keywords share a bucket; any table gives exact results. */
/* clang-format off */
static const uint16_t src_freq[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 209, 1681, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	12196, 14, 197, 342, 78, 15, 42, 326, 750, 750, 780, 29, 726, 392, 383, 446,
	421, 284, 203, 122, 90, 171, 96, 63, 93, 150, 264, 279, 82, 195, 128, 10,
	40, 575, 214, 606, 315, 887, 263, 246, 120, 636, 23, 131, 618, 298, 624, 605,
	514, 23, 592, 1051, 729, 219, 140, 55, 215, 95, 20, 51, 101, 51, 5, 2585,
	23, 1819, 411, 1382, 1288, 4000, 1012, 529, 783, 2192, 38, 469, 1324, 712, 2284, 1866,
	991, 52, 1955, 2320, 2846, 900, 317, 231, 328, 477, 64, 86, 31, 86, 10, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	2, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};
/* clang-format on */

/* A candidate bucket: nibble sets per fingerprint position. */
typedef struct pf_group {
	uint16_t lo[PF_FP], hi[PF_FP];
	size_t nkw;
	uint64_t bytes[PF_FP][4]; /* the exact byte sets (for the AVX-512 tables) */
	int exact;                /* cost by bytes, not by nibble pairs */
} pf_group;

/* Bigrams of the same sources with their frequency rounded down to a power
 * of two: src_bigrams[k] lists (as pairs of bytes) those seen at a share of
 * offsets in [2^-(k+1), 2^-k). Pairs are far from independent in code ("ck",
 * "k_", "nt"): a unigram model underestimates how often "sk_" or "ck_" occur
 * by a factor of ~30, which put the wrong keywords together. */
/* clang-format off */
static const char *const src_bigrams[17] = {
	[3] = "  ",
	[6] = "\012 , e in",
	[7] = " * c i s tatcodeefeneretfihenensntonorres sestt teth",
	[8] = "\012\012\012# ( a f o r#d)\012) );* **,\012--;\012ENERL_SLSS_C_S_c_s_talamanaraschckctd e(ecedelesf "
	       "haifioisitk_lelimen ncndngper rarirosisksstatitotrtyunyp",
	[9] = "\011\011\012\011\012/ \" ' / 0 = A C O S T _ b d e l m n p u v w# ',(s))),*/.\012/\012/ /*//090x1_50"
	       "9_:\012: = ASCTDEE_INIONSONOPPEP_RER_SNSTS_TETRT_X5_A_I_O_P___fa acadbecacecldie_eaeeemexfog gehiic"
	       "idigill l_lalllolumampnanoo odofoiomoposotoupaplpoprptrnrsrtslt_tuueulurusutvey ",
	[10] = " # $ - 1 @ B D E G I L N P X \\ g h { }\"\"((()(c(o*\012->. 00::> ACALAMARATBICACECKCMCOCRCSCoD_E EC"
	       "EDESETEXGEGLG_ICIDITInLALELILLMEMPN1NENGNTN_OCOFOROSO_PKPRRARIRTReSESISPT TATITXTh\\\012_D_E_F_L_M_N"
	       "_R_T_V_a_d_e_g_i_n_p_rabagaiapbablbucrd(d_dadde\012e)e,e.epeyf.fffrfugngsh hoibieimirizk)keldlflslt"
	       "lym mimonfninuocolooowr(r)r_rgrmrrrurys,s.s_shsospsut(t,tsttubucuiumupvavowixtze{\012}\012",
	[11] = "\011 \012i\012t\012} & 2 3 5 < F M R U V\"\012\",###e#i'\012' ')(S(X(_(i(p):)O*)*c*p*s- ._.h0\0120 "
	       "0,1 1,10122 202_323_64; ==>\012ADAGANAPBJB_C_D DIDeEPEVF(FIFOF_G GNHAHEIBIGILIPISI_KCKEK_L LOLSLiMA"
	       "MSM_MaN NANCNDNFNONUNoO OBODOLPAPIPOPTPaPrR RLRORRRSRYS SASCSeStTHTLTOTTTYTyUEULUNUSUTVAVEVaX XTX_YP"
	       "Y__B_G_H_U_X_b_l_m_o_u_vauavaybibjbobyc c)c_cicmcud\012d)d,d.dodrdsdue:e;egeqevewf\012fafeflfnftg_gi"
	       "grh_htiaipivjek k,l(m_mbmsn'n(n)n,n.n_nlo_obovp p(p)p_pipppupyqur,r.rcrdrlrvs\012s(s)s:sasct\012t)t."
	       "tctltptxudufviwawhx)x,x0xcxpy_ys{ } ",
	[12] = "\011/\011_\012*\012_\012c\012e\012s\012v % ) + 4 6 7 8 9 : H W [ k x y |\" \")$s& ':'\\'s't(\012(\""
	       "($('(*(1(A(B(C(G(O(P(a(b(f(n(r(t(v)().*a*b*i+ ...0.c.p.s01020_1\0121)11162\0122,2.253 3,4 566 7_8 86"
	       "9 < <<=>@pA ABAIA_AdAlBABEBLBUC CHCICLCUCYCaChDADTDiEAEEEFEGELEMEQEYEnErExF FAFEFLFUFiFoGeH HOH_I IE"
	       "IFIMIdIfItJEKIKeLGLULVLeLoM MFMIMONINaOIOKOMOOOTOUOpP PLPUPoPyQURMRNRPRaS1S7SHSOSRSUSiT,TSTUTeTrU UB"
	       "UIUMUPURUnVMVPV_WIY \\n\\u]\012] _0_1_3_K_W_h_k_wa,a_akaxb b_brbsc,cbcccsd:dldxe'e-ebeif(f)f,f_fdfs"
	       "fyg)g,g.ghglgogtguh(h>hri_ixkiksl\012l)l,l.lblhlvm)m.mdmlmmmumyn\012nknnnpnvnyo(oaogokp,pfphpkps"
	       "r\012r'r:rkrps's;syt't1t:t;tItdtnu uavmw w(w_wewnwowrx x(x1x8x_xey\012y(y,ymyoyt| };",
	[13] = "\011(\0110\012=\012D\012G\012O\012S\012X\012d\012u ! . > K Y Z ` q\"l#_$c$t%s&&'''M'c( (0(E(T(d(e(l"
	       "(m(u*\011*,*S*X*d*e*f*l*m*n*o*r*t*v*x,'-1-2-f-s.1.a.d.e.f.g.i.m.o.r.t.v0)0.0304080]1.1314151718192)"
	       "21222324282d2i3\0123.30384\0124,40484_5\0125 5,51556\0126,606_7 7,8\0128,80848_9,999V:/;\011<_<c<o<t"
	       ">(>>>{@sAEAFAUAVAXAnApArAtB BCBaBiBlBuC)C<CBCCCDCPCXClCrD,DBDDDHDODRDSDaDoE\012E)E,EBF8FFFTFYFaFlFr"
	       "FuGIGOGRGSH\012HTHaIAIRIVIXIZImK KUL\012L)L,LDLHLTLuMBMCMDMLMMMeMoNLNRNVNeNuOGOWObOrPCPFPHPPPSPtPuQ_"
	       "RCRDRFRUS\012S(S,SGSKSMSYSZScSoSuSyT(T)TCTFTPTaTcToTpUCU_UsV3VKVeWAWiXMXPXXZEZ_[0[]\\p\\x])],];_ _("
	       "_)_2_x_z` ``a(a)afawb)b,bcbpc(c.c:cpcyd'd-d1d2d;dtdye\"e/e<e>eCeEeIePeSeTeof-fpg\012g(g-gNgagcgm"
	       "h\012h\"h)h,h.hmhsi i)i,i2k(kal/l:lSlglpm(m,m/n\"n-n:n;o\012o,oep.p>pcpdpnr\"r-r;r<r>rIrRrTrfrws\"s-"
	       "s/s[sfsgsmsnsrswt\"t-t0t3t6t<t>tAtCtEtPtRtStTtftmtwugv_wdwuwwx2x4x5xaxixmy)y.y:yfyiylynyr{}},~~",
	[14] = "\0111\011T\011c\011i\011r\011s\011u\012A\012C\012E\012P\012T\012f\012p\012{ \012 \? J ] j z!=\".\":"
	       "\";\"C\"\\\"a\"c\"i\"m\"p\"s#\012#p#t$_$a$b$d$e$f$i$l$m$n$o$p$r$x% '('.'1'3';'='C'E'I'S'T']'a'b'd'e"
	       "'f'i'l'm'n'o'p'r'\320(2(\?(D(F(I(L(M(N(U(V(\\(g(w(x)')-*-*B*C*O*P*_*g*k*u++,1-\012-*-=-\\-a-b-c-d-e"
	       "-i-l-o-p-t.\".).2.3.b.l.n.u.w/,/=/c/i/l/o/p/s/t/w0'0-0506070:0;1'1:1;1]2\0112'2627292:2A3)3133343536"
	       "37393:3D4)4.41424344454:5.5253545758596)6.616263656667687\01270727475767781828588898:8S9\0129)909192"
	       "93949596989v:=:B:C:M:P:S:_:c:p:s</<T<s=-=/=N=h=i>,>.>:>=>_>g\? @_@rA,A2AYAcAsAuBBBOBRBSBTBeBoByC\012"
	       "CFCeCuD\012D(D)DFDLDMDUE\011E(E.EOElEvFCFDFNFRFSG)GAGCGHGMGPGTGrHIHRHSHeIsJ_KMKiL(LCLFLPLYLaLsM'MTMU"
	       "MiMuN\012N(N)N,N:NKNNNYO)OAOVOfOnOuPDPMPeQ R\012R(R)R,RBRGRHRVS)SDSXSaShSpT\012T>TDTMTiTkU0UAUDUFUG"
	       "UpUtV V2VIVOViWNWRW_WeWhWrXCXNYIYNYQYSYoZ3['[1[D[s\\U\\\\\\b\\s_\012_#_;a\012a'a-a.a3b'b(b.btc\012c'"
	       "c2cdcncvd\"d/d>dCdIdKdOdSdTdbdfdgdpe\011e#e2e3e=eAeBeDeFeLeMeNeOeRe[ehekeue}f'g'g/g:g;gRgggpgvh;hRhu"
	       "i.ikiqjojuk\012k.kcknkukwl'l-l;l<lClclrlwm\012m:mtn1nInPnSnbnmo)o-o.oCojoxp\012p'p:pqpwq q)q_qlr*r1"
	       "r=rCrPrSrbs1s=s>sFsIsOsPsSsqsvt\011t/t2t8t=tBtDtFtLtMtNtOtUtVt[tku0u2u3u8u_uouxv v1v2v3vkvlvvw.wsx-"
	       "x.x3x6x9xCxFy'y;yOyeygywz_zazi{${'||})\360\237",
	[15] = "\011$\011*\0112\011=\011I\011N\011\\\011m\011p\011t\011{\011}\012\"\012)\0125\012B\012I\012L\012M"
	       "\012U\012a\012g\012m\012n\012o \011 ; Q ~!\012!d\"$\"'\"A\"E\"I\"L\"P\"R\"S\"T\"]\"b\"d\"e\"f\"n\"r"
	       "\"t\"u\"\360#u$C$h$v&\012&)&M&O'\"'#'$'%'*'-'0'2'A'B'D'F'L'N'P'U'V'['_'g'h'u'v'w'}'\316'\340(!(3(@(R"
	       "([(h(k)\011)\")>)\?)[)\\)]*(*.*>*A*E*N*T*h+'+)+-+=,\011,),2,3,o-8-9-I-L-m-n-r-w-z.'.*.4.5.6.C.D.E.I"
	       ".M.P.S.\\.j.x/A/L/S/a/b/d/e/g/m/u/x0\0110D0\\0a0b0d0e0f1#1-1D1L1d1e2(2-2;2D2F2]2p2t3'4\0114'4-464749"
	       "4E4F4L4]5'5)5:5A5B5C5E5F5_6\0116'6-696:6A6B6C6D6E6F7'7)717378797:7F8\0118'8)83878A8B8C8D8E8F9'979:9A"
	       "9]:A:D:E:F:I:T:U:e:f:g:i:m:r:t:u:v;'<=<I<S<b<h<i<l<p<u=\012=\"='=(=T=c=s=~>&>)>;>c>i>m>n>s>t\?:@@@a"
	       "@b@c@d@f@{A\012A-A1A3A5AAAKAWAbB\012B)B,BFBKBNBPBYBrC\"C(C+C,C2CtD\011D1D2D3D5D8D;DCDGDNDPDVDWDXDsE'"
	       "E2E:E;EIEKEWEdEmF\012F)F,F7FBFPG\012G,G:GBGDGUGlHDHMHoI\012I)I,I2IIJSK\012KNL.L2L8L<LBLNLXLfM,NP"
	       "O\012O,O:OEOXOtP)P,P:PGPNPYPiPlQLQuR\011RKRWRiRoRuS\011S'S.S8S:S;SBSFSQSVSWSlSmSvT\011T'T.T/T1T2T:TN"
	       "TWTuTwU\012U+UXV)V4V6VCVGVTW WEWOWaWoX\012X(X-X2XEXFXIXKXSXtY)Y,YAYMYRYT[\012[\"[-[2[^[_[i\\.\\c\\d"
	       "\\r\\t\\w]*]+].]:][]]_'_,_5_6_Q_[_q_y`.a\"a1a2a5a:a;aaaeb1b2bbbdbfbgbmc-c;cBcCcKcTcfcxd\011d*d<dAdB"
	       "dDdEdFdLdMdNdPdRdcdhdjdmdndve&e*e1e6eGeHeKeUeVe\\e]e`e|f\"f1f8f:f;f<fcfmg\"g>gAgIgSgTh'h-h:hdhlhyi("
	       "j j)j,k'k;kIkSkbkgklktl\"l2l>lBlDlElFlIlNlPlRlTlVl[lklmlnm'm-m;mImSmcmfmkmnmvn/n=n>nAnBnCnEnRnTn[n\\"
	       "n]nhnro'o;oyp\"p-p1p7p;pIpbpgpmpvq,qwr\011r2rArBrDrErFrNr]rhr}s*s2s<sAsCsEsMsNsRsTsVs]sds{s}t!t*tHtK"
	       "tWt]tbtvt|u.u1u6v)v,v.v4v[vcvfvsvtvxw\012w)w,wlx\012x'x7x;xAxExfxsxxxyy\"y-y>yAyCyIyPyRySyTyaybyczo"
	       "{s|\012|'|\\}{}}~ \340\270",
};
/* clang-format on */

typedef struct pf_model {
	float uni[256];       /* share of offsets where byte a occurs */
	float next[256][256]; /* chance that byte b follows byte a */
} pf_model;

static void model_init(pf_model *m)
{
	/* Pairs not listed are rarer than 2^-16: assume independence, capped there. */
	for (int a = 0; a < 256; a++)
		for (int b = 0; b < 256; b++) {
			double p = src_freq[a] / 65536.0 * (src_freq[b] / 65536.0);
			m->next[a][b] = (float)(p < 1.0 / (1 << 17) ? p : 1.0 / (1 << 17));
		}
	for (int k = 0; k < 17; k++) {
		const char *s = src_bigrams[k];
		for (size_t i = 0; s && s[i] && s[i + 1]; i += 2)
			m->next[(uint8_t)s[i]][(uint8_t)s[i + 1]] = (float)(1.0 / (double)(1u << k) / 1.41421356);
	}
	/* Rows now hold pair shares; their sums are the byte shares, and dividing gives the transitions. */
	for (int a = 0; a < 256; a++) {
		double s = 0;
		for (int b = 0; b < 256; b++)
			s += m->next[a][b];
		m->uni[a] = (float)s;
		for (int b = 0; b < 256; b++)
			m->next[a][b] = (float)(m->next[a][b] / s);
	}
}

/* The bytes whose nibbles are both in the sets; returns how many. */
static int nibble_bytes(uint16_t lo, uint16_t hi, uint8_t out[256])
{
	int n = 0;
	for (int h = 0; h < 16; h++)
		if (hi & (1u << h))
			for (int l = 0; l < 16; l++)
				if (lo & (1u << l))
					out[n++] = (uint8_t)(h * 16 + l);
	return n;
}

/* Expected verification work per offset: the chance that the bucket fires
 * (a first-order Markov chain over the fingerprint positions) times the
 * entries to check then (plus a fixed cost for the branch). */
/* The bytes of position j that group g accepts; returns how many. */
static int group_bytes(const pf_group *g, int j, uint8_t out[256])
{
	if (!g->exact)
		return nibble_bytes(g->lo[j], g->hi[j], out);
	int n = 0;
	for (int w = 0; w < 4; w++)
		for (uint64_t b = g->bytes[j][w]; b; b &= b - 1)
			out[n++] = (uint8_t)(w * 64 + __builtin_ctzll(b));
	return n;
}

static double group_cost(const pf_model *m, const pf_group *g)
{
	/* Trailing positions that accept every byte (short keywords) do not change the chance. */
	int last = PF_FP - 1;
	while (last > 0 && g->lo[last] == 0xffff && g->hi[last] == 0xffff)
		last--;
	uint8_t set[2][256];
	int ns = group_bytes(g, 0, set[0]);
	double v[256], nv[256];
	for (int i = 0; i < ns; i++)
		v[set[0][i]] = m->uni[set[0][i]];
	for (int j = 1; j <= last; j++) {
		uint8_t *prev = set[(j - 1) & 1], *cur = set[j & 1];
		int nc = group_bytes(g, j, cur);
		for (int i = 0; i < nc; i++) {
			double s = 0;
			for (int k = 0; k < ns; k++)
				s += v[prev[k]] * m->next[prev[k]][cur[i]];
			nv[cur[i]] = s;
		}
		for (int i = 0; i < nc; i++)
			v[cur[i]] = nv[cur[i]];
		ns = nc;
	}
	double p = 0;
	for (int i = 0; i < ns; i++)
		p += v[set[last & 1][i]];
	return p * (4.0 + (double)g->nkw);
}

static pf_group group_merge(const pf_group *a, const pf_group *b)
{
	pf_group g;
	for (int j = 0; j < PF_FP; j++) {
		g.lo[j] = a->lo[j] | b->lo[j];
		g.hi[j] = a->hi[j] | b->hi[j];
	}
	for (int j = 0; j < PF_FP; j++)
		for (int w = 0; w < 4; w++)
			g.bytes[j][w] = a->bytes[j][w] | b->bytes[j][w];
	g.exact = a->exact;
	g.nkw = a->nkw + b->nkw;
	return g;
}

static pf_group keyword_group(const pf_keyword *k, int exact)
{
	pf_group g = {{0}, {0}, 1, {{0}}, exact};
	for (size_t j = 0; j < PF_FP; j++) {
		if (j >= k->len) {
			g.lo[j] = g.hi[j] = 0xffff;
			for (int w = 0; w < 4; w++)
				g.bytes[j][w] = UINT64_MAX;
			continue;
		}
		uint8_t v[2];
		int nv = variants(k, j, v);
		for (int a = 0; a < nv; a++) {
			g.lo[j] |= (uint16_t)(1u << (v[a] & 15));
			g.hi[j] |= (uint16_t)(1u << (v[a] >> 4));
			g.bytes[j][v[a] >> 6] |= 1ull << (v[a] & 63);
		}
	}
	return g;
}

static int group_cmp(const pf_group *a, const pf_group *b)
{
	for (int j = 0; j < PF_FP; j++) {
		if (a->hi[j] != b->hi[j])
			return a->hi[j] < b->hi[j] ? -1 : 1;
		if (a->lo[j] != b->lo[j])
			return a->lo[j] < b->lo[j] ? -1 : 1;
	}
	return 0;
}

/* Fills bucket_of[i] for every keyword; returns the modelled share of offsets
 * at which some bucket fires. */
static double assign_buckets(const bs_prefilter *pf, int *bucket_of, int exact)
{
	size_t n = pf->n;
	if (n == 0)
		return 0;
	pf_group *kg = bs_xmalloc(n * sizeof(*kg));
	size_t *order = bs_xmalloc(n * sizeof(*order));
	int *group_of = bs_xmalloc(n * sizeof(*group_of));
	for (size_t i = 0; i < n; i++) {
		kg[i] = keyword_group(&pf->kw[i], exact);
		order[i] = i;
	}
	/* Insertion sort by fingerprint: n is small, and equal fingerprints end up adjacent. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && group_cmp(&kg[order[j - 1]], &kg[order[j]]) > 0; j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++)
		distinct += i == 0 || group_cmp(&kg[order[i - 1]], &kg[order[i]]) != 0;

	/* Initial groups: one per distinct fingerprint, or runs of neighbours when there are too many. */
	size_t per = (distinct + PF_MAX_GROUPS - 1) / PF_MAX_GROUPS;
	pf_group *g = bs_xcalloc(distinct < PF_MAX_GROUPS ? distinct + 1 : PF_MAX_GROUPS + 1, sizeof(*g));
	size_t ng = 0, seen = 0;
	for (size_t i = 0; i < n; i++) {
		int fresh = i == 0 || group_cmp(&kg[order[i - 1]], &kg[order[i]]) != 0;
		if (fresh) {
			seen++;
			if ((seen - 1) % per == 0) {
				g[ng] = kg[order[i]];
				g[ng].nkw = 0;
				ng++;
			}
		}
		pf_group *cur = &g[ng - 1];
		pf_group m = group_merge(cur, &kg[order[i]]);
		*cur = m;
		group_of[order[i]] = (int)(ng - 1);
	}

	/* Greedy agglomeration: merge the pair that adds the least cost until 8 remain. */
	pf_model *model = bs_xmalloc(sizeof(*model));
	model_init(model);
	double *cost = bs_xmalloc(ng * sizeof(*cost));
	double *delta = bs_xmalloc(ng * ng * sizeof(*delta));
	int *alive = bs_xmalloc(ng * sizeof(*alive));
	for (size_t a = 0; a < ng; a++) {
		cost[a] = group_cost(model, &g[a]);
		alive[a] = 1;
	}
	for (size_t a = 0; a < ng; a++)
		for (size_t b = a + 1; b < ng; b++) {
			pf_group m = group_merge(&g[a], &g[b]);
			delta[a * ng + b] = group_cost(model, &m) - cost[a] - cost[b];
		}
	for (size_t left = ng; left > PF_BUCKETS; left--) {
		size_t ba = 0, bb = 0;
		double best = 0;
		int found = 0;
		for (size_t a = 0; a < ng; a++) {
			if (!alive[a])
				continue;
			for (size_t b = a + 1; b < ng; b++)
				if (alive[b] && (!found || delta[a * ng + b] < best)) {
					best = delta[a * ng + b];
					ba = a;
					bb = b;
					found = 1;
				}
		}
		g[ba] = group_merge(&g[ba], &g[bb]);
		cost[ba] = group_cost(model, &g[ba]);
		alive[bb] = 0;
		for (size_t i = 0; i < n; i++)
			if (group_of[i] == (int)bb)
				group_of[i] = (int)ba;
		for (size_t o = 0; o < ng; o++) {
			if (!alive[o] || o == ba)
				continue;
			pf_group m = group_merge(&g[ba], &g[o]);
			size_t a = o < ba ? o : ba, b = o < ba ? ba : o;
			delta[a * ng + b] = group_cost(model, &m) - cost[a] - cost[b];
		}
	}
	/* Number the surviving groups 0..7. */
	int *slot = bs_xmalloc((ng ? ng : 1) * sizeof(*slot));
	int next = 0;
	double fire = 0;
	for (size_t a = 0; a < ng; a++) {
		slot[a] = alive[a] ? next++ : -1;
		if (alive[a])
			fire += cost[a] / (4.0 + (double)g[a].nkw);
	}
	for (size_t i = 0; i < n; i++)
		bucket_of[i] = slot[group_of[i]];

	free(slot);
	free(alive);
	free(delta);
	free(cost);
	free(model);
	free(g);
	free(group_of);
	free(order);
	free(kg);
	return fire;
}

/* Returns the modelled share of offsets at which some bucket fires. */
static double build_teddy(bs_prefilter *pf, int exact)
{
	int *bucket_of = bs_xmalloc((pf->n ? pf->n : 1) * sizeof(*bucket_of));
	double fire = assign_buckets(pf, bucket_of, exact);
	size_t cap = pf->n + PF_BUCKETS * PF_LANES;
	pf_entries *E = &pf->ent;
	E->head = bs_xmalloc(cap * sizeof(uint32_t));
	E->head_and = bs_xmalloc(cap * sizeof(uint32_t));
	E->head_or = bs_xmalloc(cap * sizeof(uint32_t));
	E->idx = bs_xmalloc(cap * sizeof(uint32_t));
	size_t at = 0;
	for (int b = 0; b < PF_BUCKETS; b++) {
		pf->bucket_start[b] = (uint32_t)at;
		for (size_t i = 0; i < pf->n; i++) {
			if (bucket_of[i] != b)
				continue;
			const pf_keyword *k = &pf->kw[i];
			uint8_t head[4] = {0}, hand[4] = {0}, hor[4] = {0};
			for (size_t j = 0; j < 4 && j < k->len; j++) {
				head[j] = k->bytes[j];
				hand[j] = 0xff;
				hor[j] = k->orb ? k->orb[j] : 0;
			}
			memcpy(&E->head[at], head, 4);
			memcpy(&E->head_and[at], hand, 4);
			memcpy(&E->head_or[at], hor, 4);
			E->idx[at] = (uint32_t)i;
			at++;

			for (size_t j = 0; j < PF_FP; j++) {
				if (j >= k->len) {
					for (int x = 0; x < 256; x++)
						pf->exact[j][x] |= (uint8_t)(1u << b);
					continue;
				}
				uint8_t v[2];
				int nv = variants(k, j, v);
				for (int a = 0; a < nv; a++)
					pf->exact[j][v[a]] |= (uint8_t)(1u << b);
			}
			pf_group kg = keyword_group(k, 0);
			for (int j = 0; j < PF_FP; j++)
				for (int x = 0; x < 16; x++) {
					if (kg.lo[j] & (1u << x))
						pf->lo[j][x] |= (uint8_t)(1u << b);
					if (kg.hi[j] & (1u << x))
						pf->hi[j][x] |= (uint8_t)(1u << b);
				}
		}
		while (at % PF_LANES) {
			E->head[at] = UINT32_MAX;
			E->head_and[at] = 0;
			E->head_or[at] = 0;
			E->idx[at] = 0;
			at++;
		}
	}
	pf->bucket_start[PF_BUCKETS] = (uint32_t)at;
	pf->exact_high_uniform = 1;
	for (int j = 0; j < PF_FP; j++)
		for (int x = 129; x < 256; x++)
			if (pf->exact[j][x] != pf->exact[j][128])
				pf->exact_high_uniform = 0;
	free(bucket_of);
	pf->branch_free = 64.0 * fire > PF_BRANCH_FREE_MIN;
	return fire;
}

/* Reports keyword e->idx[i] at p if its bytes after the first four match too. */
static inline int confirm(const bs_prefilter *pf, const uint8_t *buf, size_t len, size_t p, uint32_t idx,
                          bs_prefilter_cb cb, void *ud)
{
	const pf_keyword *k = &pf->kw[idx];
	if (k->len > 4 && (k->len > len - p || !tail_matches(k, buf + p, 4)))
		return 0;
	return cb(ud, idx, p);
}

/* Verifies the keywords of the buckets in `buckets` at offset p; p + 4 <= len. */
static inline int verify_at(const bs_prefilter *pf, const uint8_t *buf, size_t len, size_t p, unsigned buckets,
                            bs_prefilter_cb cb, void *ud)
{
	const pf_entries *E = &pf->ent;
	uint32_t x;
	memcpy(&x, buf + p, 4);
#if PF_X86
	const __m128i xv = _mm_set1_epi32((int)x);
#endif
	while (buckets) {
		int b = __builtin_ctz(buckets);
		buckets &= buckets - 1;
		for (uint32_t i = pf->bucket_start[b]; i < pf->bucket_start[b + 1]; i += 4) {
#if PF_X86
			__m128i v = _mm_or_si128(xv, _mm_loadu_si128((const __m128i *)(E->head_or + i)));
			v = _mm_and_si128(v, _mm_loadu_si128((const __m128i *)(E->head_and + i)));
			v = _mm_cmpeq_epi32(v, _mm_loadu_si128((const __m128i *)(E->head + i)));
			unsigned m = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(v));
#else
			unsigned m = 0;
			for (int l = 0; l < 4; l++)
				m |= (unsigned)(((x | E->head_or[i + l]) & E->head_and[i + l]) == E->head[i + l]) << l;
#endif
			while (m) {
				int lane = __builtin_ctz(m);
				m &= m - 1;
				int rc = confirm(pf, buf, len, p, E->idx[i + (unsigned)lane], cb, ud);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

#if PF_X86
/* As verify_at, eight entries per compare. */
__attribute__((target("avx2"))) static inline int verify_at_avx2(const bs_prefilter *pf, const uint8_t *buf, size_t len,
                                                                 size_t p, unsigned buckets, bs_prefilter_cb cb,
                                                                 void *ud)
{
	const pf_entries *E = &pf->ent;
	uint32_t x;
	memcpy(&x, buf + p, 4);
	const __m256i xv = _mm256_set1_epi32((int)x);
	while (buckets) {
		int b = __builtin_ctz(buckets);
		buckets &= buckets - 1;
		for (uint32_t i = pf->bucket_start[b]; i < pf->bucket_start[b + 1]; i += 8) {
			__m256i v = _mm256_or_si256(xv, _mm256_loadu_si256((const __m256i *)(E->head_or + i)));
			v = _mm256_and_si256(v, _mm256_loadu_si256((const __m256i *)(E->head_and + i)));
			v = _mm256_cmpeq_epi32(v, _mm256_loadu_si256((const __m256i *)(E->head + i)));
			unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(v));
			while (m) {
				int lane = __builtin_ctz(m);
				m &= m - 1;
				int rc = confirm(pf, buf, len, p, E->idx[i + (unsigned)lane], cb, ud);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}
#endif

#if PF_X86
__attribute__((target("ssse3"))) static int scan_ssse3(const bs_prefilter *pf, const uint8_t *buf, size_t len,
                                                       bs_prefilter_cb cb, void *ud)
{
	enum { W = 16 };
	__m128i lo[PF_FP], hi[PF_FP];
	for (int j = 0; j < PF_FP; j++) {
		lo[j] = _mm_loadu_si128((const __m128i *)pf->lo[j]);
		hi[j] = _mm_loadu_si128((const __m128i *)pf->hi[j]);
	}
	const __m128i nib = _mm_set1_epi8(0x0f);
	const __m128i zero = _mm_setzero_si128();
	size_t i = 0;
	for (; i + W + PF_FP - 1 <= len; i += W) {
		__m128i acc = _mm_set1_epi8((char)0xff);
		for (int j = 0; j < PF_FP; j++) {
			__m128i v = _mm_loadu_si128((const __m128i *)(buf + i + j));
			__m128i l = _mm_shuffle_epi8(lo[j], _mm_and_si128(v, nib));
			__m128i h = _mm_shuffle_epi8(hi[j], _mm_and_si128(_mm_srli_epi16(v, 4), nib));
			acc = _mm_and_si128(acc, _mm_and_si128(l, h));
		}
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(acc, zero)) ^ 0xffffu;
		if (!m)
			continue;
		uint8_t res[W];
		_mm_storeu_si128((__m128i *)res, acc);
		do {
			int bit = __builtin_ctz(m);
			m &= m - 1;
			int rc = verify_at(pf, buf, len, i + (size_t)bit, res[bit], cb, ud);
			if (rc)
				return rc;
		} while (m);
	}
	return scan_scalar_from(pf, buf, len, i, cb, ud);
}

/* The buckets that may start at each of the 32 offsets p .. p + 31. Written
 * out for PF_FP == 4 so that the eight tables stay in registers. */
__attribute__((target("avx2"), always_inline)) static inline __m256i teddy32(const uint8_t *p, const __m256i *lo,
                                                                             const __m256i *hi, __m256i nib)
{
	__m256i v0 = _mm256_loadu_si256((const __m256i *)p);
	__m256i v1 = _mm256_loadu_si256((const __m256i *)(p + 1));
	__m256i v2 = _mm256_loadu_si256((const __m256i *)(p + 2));
	__m256i v3 = _mm256_loadu_si256((const __m256i *)(p + 3));
	__m256i a0 = _mm256_and_si256(_mm256_shuffle_epi8(lo[0], _mm256_and_si256(v0, nib)),
	                              _mm256_shuffle_epi8(hi[0], _mm256_and_si256(_mm256_srli_epi16(v0, 4), nib)));
	__m256i a1 = _mm256_and_si256(_mm256_shuffle_epi8(lo[1], _mm256_and_si256(v1, nib)),
	                              _mm256_shuffle_epi8(hi[1], _mm256_and_si256(_mm256_srli_epi16(v1, 4), nib)));
	__m256i a2 = _mm256_and_si256(_mm256_shuffle_epi8(lo[2], _mm256_and_si256(v2, nib)),
	                              _mm256_shuffle_epi8(hi[2], _mm256_and_si256(_mm256_srli_epi16(v2, 4), nib)));
	__m256i a3 = _mm256_and_si256(_mm256_shuffle_epi8(lo[3], _mm256_and_si256(v3, nib)),
	                              _mm256_shuffle_epi8(hi[3], _mm256_and_si256(_mm256_srli_epi16(v3, 4), nib)));
	return _mm256_and_si256(_mm256_and_si256(a0, a1), _mm256_and_si256(a2, a3));
}

/* A 64-byte block with candidates: offsets at + bit for the set bits of m,
 * res[bit] their buckets. The SIMD loops queue up to PF_QUEUE of them and
 * verify the queue after every PF_QUEUE blocks, so that the tables leave
 * their registers (verification calls out) once per segment, not once per
 * block with a candidate; the queue keeps the ascending order. */
#define PF_QUEUE 32
typedef struct pf_block {
	uint8_t res[64];
	size_t at;
	uint64_t m;
} pf_block;

__attribute__((target("avx2"), noinline)) static int verify_queue(const bs_prefilter *pf, const uint8_t *buf,
                                                                  size_t len, const pf_block *q, size_t nq,
                                                                  bs_prefilter_cb cb, void *ud)
{
	for (size_t k = 0; k < nq; k++) {
		uint64_t m = q[k].m;
		do {
			int bit = __builtin_ctzll(m);
			m &= m - 1;
			int rc = verify_at_avx2(pf, buf, len, q[k].at + (size_t)bit, q[k].res[bit], cb, ud);
			if (rc)
				return rc;
		} while (m);
	}
	return 0;
}

/* 64 bytes per iteration, one well-predicted branch for both halves: almost
 * every block has no candidate. */
__attribute__((target("avx2"), always_inline)) static inline int
scan_avx2_body(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud, int branch_free)
{
	_Static_assert(PF_FP == 4, "teddy32 is written for four fingerprint bytes");
	__m256i lo[PF_FP], hi[PF_FP];
	for (int j = 0; j < PF_FP; j++) {
		lo[j] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)pf->lo[j]));
		hi[j] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)pf->hi[j]));
	}
	const __m256i nib = _mm256_set1_epi8(0x0f);
	const __m256i zero = _mm256_setzero_si256();
	pf_block q[PF_QUEUE];
	size_t i = 0;
	while (i + 64 + PF_FP - 1 <= len) {
		size_t nq = 0;
		for (int k = 0; k < PF_QUEUE && i + 64 + PF_FP - 1 <= len; k++, i += 64) {
			__m256i a = teddy32(buf + i, lo, hi, nib);
			__m256i b = teddy32(buf + i + 32, lo, hi, nib);
			if (!branch_free) {
				__m256i any = _mm256_or_si256(a, b);
				if (__builtin_expect(_mm256_testz_si256(any, any), 1))
					continue;
			}
			uint64_t m = (uint64_t)(uint32_t)~_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero)) |
			             (uint64_t)(uint32_t)~_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, zero)) << 32;
			q[nq].at = i;
			q[nq].m = m;
			_mm256_storeu_si256((__m256i *)q[nq].res, a);
			_mm256_storeu_si256((__m256i *)(q[nq].res + 32), b);
			nq += m != 0;
		}
		if (nq) {
			int rc = verify_queue(pf, buf, len, q, nq, cb, ud);
			if (rc)
				return rc;
		}
	}
	/* The last offsets whose four bytes fit: one more block on a zero-padded
	 * copy (candidates are verified in buf); the scalar path only takes the
	 * last three. */
	if (i + PF_FP <= len) {
		uint8_t pad[64 + 32] = {0};
		memcpy(pad, buf + i, len - i);
		__m256i a = teddy32(pad, lo, hi, nib);
		__m256i b = teddy32(pad + 32, lo, hi, nib);
		size_t offs = len - i - (PF_FP - 1);
		q[0].at = i;
		q[0].m = ((uint64_t)(uint32_t)~_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero)) |
		          (uint64_t)(uint32_t)~_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, zero)) << 32) &
		         (offs >= 64 ? UINT64_MAX : (UINT64_C(1) << offs) - 1);
		if (q[0].m) {
			_mm256_storeu_si256((__m256i *)q[0].res, a);
			_mm256_storeu_si256((__m256i *)(q[0].res + 32), b);
			int rc = verify_queue(pf, buf, len, q, 1, cb, ud);
			if (rc)
				return rc;
		}
		i += offs;
	}
	return scan_scalar_from(pf, buf, len, i, cb, ud);
}

__attribute__((target("avx2"))) static int scan_avx2(const bs_prefilter *pf, const uint8_t *buf, size_t len,
                                                     bs_prefilter_cb cb, void *ud)
{
	if (pf->branch_free)
		return scan_avx2_body(pf, buf, len, cb, ud, 1);
	return scan_avx2_body(pf, buf, len, cb, ud, 0);
}

/* The buckets for the 64 bytes at v, looked up in the 256-entry table t[4]:
 * VPERMI2B indexes 128 entries by the low 7 bits, the sign bit picks the
 * half. When every byte >= 0x80 has the same entry (no keyword has such a
 * byte there), one lookup and a masked move do: the usual case. */
__attribute__((target("avx512f,avx512bw,avx512vbmi"), always_inline)) static inline __m512i
exact64(__m512i v, const __m512i *t, int uniform_high)
{
	__m512i lo = _mm512_permutex2var_epi8(t[0], v, t[1]);
	if (uniform_high)
		return _mm512_mask_mov_epi8(lo, _mm512_movepi8_mask(v), t[2]);
	__m512i hi = _mm512_permutex2var_epi8(t[2], v, t[3]);
	return _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi);
}

/* t[j][2] is the uniform entry broadcast when uniform_high. */
__attribute__((target("avx512f,avx512bw,avx512vbmi,avx2"), always_inline)) static inline int
scan_avx512_body(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud,
                 __m512i t[PF_FP][4], int uniform_high, int branch_free)
{
	pf_block q[PF_QUEUE];
	size_t i = 0;
	while (i + 64 + PF_FP - 1 <= len) {
		size_t nq = 0;
		for (int k = 0; k < PF_QUEUE && i + 64 + PF_FP - 1 <= len; k++, i += 64) {
			__m512i v0 = _mm512_loadu_si512((const void *)(buf + i));
			__m512i v1 = _mm512_loadu_si512((const void *)(buf + i + 1));
			__m512i v2 = _mm512_loadu_si512((const void *)(buf + i + 2));
			__m512i v3 = _mm512_loadu_si512((const void *)(buf + i + 3));
			__m512i a0, a1, a2, a3;
			/* v0 and v3 cover all 67 bytes: when none is >= 0x80 (nearly
			 * always in source text), the 7-bit lookups are exact. */
			if (__builtin_expect(!_mm512_movepi8_mask(_mm512_or_si512(v0, v3)), 1)) {
				a0 = _mm512_permutex2var_epi8(t[0][0], v0, t[0][1]);
				a1 = _mm512_permutex2var_epi8(t[1][0], v1, t[1][1]);
				a2 = _mm512_permutex2var_epi8(t[2][0], v2, t[2][1]);
				a3 = _mm512_permutex2var_epi8(t[3][0], v3, t[3][1]);
			} else {
				a0 = exact64(v0, t[0], uniform_high);
				a1 = exact64(v1, t[1], uniform_high);
				a2 = exact64(v2, t[2], uniform_high);
				a3 = exact64(v3, t[3], uniform_high);
			}
			__m512i acc = _mm512_and_si512(_mm512_and_si512(a0, a1), _mm512_and_si512(a2, a3));
			uint64_t m = _mm512_test_epi8_mask(acc, acc);
			if (!branch_free && __builtin_expect(!m, 1))
				continue;
			q[nq].at = i;
			q[nq].m = m;
			_mm512_storeu_si512((void *)q[nq].res, acc);
			nq += m != 0;
		}
		if (nq) {
			int rc = verify_queue(pf, buf, len, q, nq, cb, ud);
			if (rc)
				return rc;
		}
	}
	/* The last offsets whose four bytes fit, in one block of masked loads (no
	 * read past the end); the scalar path only takes the last three. */
	if (i + PF_FP <= len) {
		__m512i a[PF_FP];
		for (int j = 0; j < PF_FP; j++) {
			size_t avail = len - i - (size_t)j;
			__mmask64 lm = avail >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << avail) - 1;
			a[j] = exact64(_mm512_maskz_loadu_epi8(lm, buf + i + j), t[j], uniform_high);
		}
		__m512i acc = _mm512_and_si512(_mm512_and_si512(a[0], a[1]), _mm512_and_si512(a[2], a[3]));
		size_t offs = len - i - (PF_FP - 1);
		q[0].at = i;
		q[0].m = _mm512_test_epi8_mask(acc, acc) & (offs >= 64 ? UINT64_MAX : (UINT64_C(1) << offs) - 1);
		if (q[0].m) {
			_mm512_storeu_si512((void *)q[0].res, acc);
			int rc = verify_queue(pf, buf, len, q, 1, cb, ud);
			if (rc)
				return rc;
		}
		i += offs;
	}
	return scan_scalar_from(pf, buf, len, i, cb, ud);
}

/* As scan_avx2, 64 offsets per iteration with exact byte tables: one lookup
 * per byte instead of a pair of nibble lookups, and no nibble aliasing. */
__attribute__((target("avx512f,avx512bw,avx512vbmi,avx2"))) static int
scan_avx512(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud)
{
	_Static_assert(PF_FP == 4, "scan_avx512 is written for four fingerprint bytes");
	__m512i t[PF_FP][4];
	for (int j = 0; j < PF_FP; j++) {
		t[j][0] = _mm512_loadu_si512((const void *)pf->exact[j]);
		t[j][1] = _mm512_loadu_si512((const void *)(pf->exact[j] + 64));
		if (pf->exact_high_uniform) {
			t[j][2] = _mm512_set1_epi8((char)pf->exact[j][128]);
			t[j][3] = t[j][2];
		} else {
			t[j][2] = _mm512_loadu_si512((const void *)(pf->exact[j] + 128));
			t[j][3] = _mm512_loadu_si512((const void *)(pf->exact[j] + 192));
		}
	}
	if (pf->branch_free)
		return pf->exact_high_uniform ? scan_avx512_body(pf, buf, len, cb, ud, t, 1, 1)
		                              : scan_avx512_body(pf, buf, len, cb, ud, t, 0, 1);
	return pf->exact_high_uniform ? scan_avx512_body(pf, buf, len, cb, ud, t, 1, 0)
	                              : scan_avx512_body(pf, buf, len, cb, ud, t, 0, 0);
}
#endif

#if PF_NEON
/* TBL is AArch64's PSHUFB (an index >= 16 gives 0; the nibbles never are). */
static int scan_neon(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud)
{
	enum { W = 16 };
	uint8x16_t lo[PF_FP], hi[PF_FP];
	for (int j = 0; j < PF_FP; j++) {
		lo[j] = vld1q_u8(pf->lo[j]);
		hi[j] = vld1q_u8(pf->hi[j]);
	}
	const uint8x16_t nib = vdupq_n_u8(0x0f);
	size_t i = 0;
	for (; i + W + PF_FP - 1 <= len; i += W) {
		uint8x16_t acc = vdupq_n_u8(0xff);
		for (int j = 0; j < PF_FP; j++) {
			uint8x16_t v = vld1q_u8(buf + i + j);
			uint8x16_t l = vqtbl1q_u8(lo[j], vandq_u8(v, nib));
			uint8x16_t h = vqtbl1q_u8(hi[j], vshrq_n_u8(v, 4));
			acc = vandq_u8(acc, vandq_u8(l, h));
		}
		if (vmaxvq_u8(acc) == 0)
			continue;
		uint8_t res[W];
		vst1q_u8(res, acc);
		for (int bit = 0; bit < W; bit++) {
			if (!res[bit])
				continue;
			int rc = verify_at(pf, buf, len, i + (size_t)bit, res[bit], cb, ud);
			if (rc)
				return rc;
		}
	}
	return scan_scalar_from(pf, buf, len, i, cb, ud);
}
#endif
#endif /* PF_SIMD */

/* BSTSCAN_PREFILTER=scalar|ssse3|avx2|avx512|neon forces a strategy (for tests and
 * benchmarks); a SIMD one the CPU lacks falls back to the best it has. */
static void choose_strategy(bs_prefilter *pf)
{
	const char *want = getenv("BSTSCAN_PREFILTER");
	pf->scan = scan_scalar;
	pf->strategy = "scalar-hash";
	if (want && strcmp(want, "scalar") == 0)
		return;
#if PF_X86
	int want_ssse3 = want && strcmp(want, "ssse3") == 0;
	int want_avx2 = want && strcmp(want, "avx2") == 0;
	int forced = want_ssse3 || want_avx2 || (want && strcmp(want, "avx512") == 0);
	if (!__builtin_cpu_supports("ssse3"))
		return;
	int avx512 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512bw") &&
	             __builtin_cpu_supports("avx512vbmi") && !want_ssse3 && !want_avx2;
	/* The AVX-512 tables are exact: buckets are chosen for them, not for nibble pairs. */
	double fire = build_teddy(pf, avx512);
	if (!forced && fire > PF_TEDDY_MAX_FIRE)
		return;
	if (avx512) {
		pf->scan = scan_avx512;
		pf->strategy = "teddy-avx512vbmi";
	} else if (__builtin_cpu_supports("avx2") && !want_ssse3) {
		pf->scan = scan_avx2;
		pf->strategy = "teddy-avx2";
	} else {
		pf->scan = scan_ssse3;
		pf->strategy = "teddy-ssse3";
	}
#elif PF_NEON
	/* NEON is part of the AArch64 base ISA: no run-time check. */
	int forced = want && strcmp(want, "neon") == 0;
	double fire = build_teddy(pf, 0);
	if (!forced && fire > PF_TEDDY_MAX_FIRE)
		return;
	pf->scan = scan_neon;
	pf->strategy = "teddy-neon";
#endif
}

int bs_prefilter_new(bs_prefilter **out, const char *const *keywords, const size_t *lens, const int *nocase, size_t n,
                     bs_error *err)
{
	*out = NULL;
	if (n > UINT32_MAX / 4)
		return bs_error_set(err, BS_ERR_USAGE, "too many prefilter keywords (%zu)", n);
	for (size_t i = 0; i < n; i++)
		if (lens[i] == 0 || !keywords[i])
			return bs_error_set(err, BS_ERR_USAGE, "prefilter keyword %zu is empty", i);

	bs_prefilter *pf = bs_xcalloc(1, sizeof(*pf));
	pf->n = n;
	pf->kw = bs_xcalloc(n ? n : 1, sizeof(*pf->kw));
	for (size_t i = 0; i < n; i++) {
		pf_keyword *k = &pf->kw[i];
		k->len = lens[i];
		k->bytes = (uint8_t *)bs_xmemdup(keywords[i], lens[i]);
		if (nocase && nocase[i]) {
			k->orb = bs_xcalloc(k->len, 1);
			for (size_t j = 0; j < k->len; j++) {
				k->bytes[j] = fold(k->bytes[j]);
				k->orb[j] = is_lower(k->bytes[j]) ? 0x20 : 0;
			}
		}
	}
	build_scalar(pf);
	choose_strategy(pf);
	*out = pf;
	return 0;
}

void bs_prefilter_free(bs_prefilter *pf)
{
	if (!pf)
		return;
	for (size_t i = 0; i < pf->n; i++) {
		free(pf->kw[i].bytes);
		free(pf->kw[i].orb);
	}
	free(pf->kw);
	free(pf->by_first);
	free(pf->ent.head);
	free(pf->ent.head_and);
	free(pf->ent.head_or);
	free(pf->ent.idx);
	free(pf);
}

int bs_prefilter_scan(const bs_prefilter *pf, const uint8_t *buf, size_t len, bs_prefilter_cb cb, void *ud)
{
	return pf->scan(pf, buf, len, cb, ud);
}

const char *bs_prefilter_strategy(const bs_prefilter *pf)
{
	return pf->strategy;
}
