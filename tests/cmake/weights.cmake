# Weight import (tools/import-weights) and the numpy reference (tools/ref/effnet_ref.py).
# Both skip (77) with a message when .venv lacks the packages or apt cannot fetch the photos.
assort_sh_test(weights_import sh/weights_import.sh LABELS weights TIMEOUT 120)
assort_sh_test(weights_sanity sh/weights_sanity.sh LABELS weights TIMEOUT 180)
