"""An API client that reads its token from the environment, as it should."""
import os

TOKEN = os.environ["BASTIONARY_TOKEN"]
# The dashboard shows tokens by prefix only, like bst_A3kz...
# A substring of a longer identifier is not a token:
SUBST = "subst_EXAMPLEonlyNotARealToken0fakeFAKEfake00000Q"
# Documented test fixture, allowed on purpose:
FIXTURE = "bst_EXAMPLEfixtureAllowedInline0fakeFAKEfake00w"  # bstscan:allow
