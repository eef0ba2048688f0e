"""One normalizer per vendor, behind one small interface (pacs.vendors.base)."""

from pacs.vendors.base import Normalized, NormalizeError, Normalizer, camio_labels
from pacs.vendors.brivo import Brivo
from pacs.vendors.generic import Generic
from pacs.vendors.onguard import OnGuard
from pacs.vendors.openpath import Openpath

NORMALIZERS: dict[str, Normalizer] = {
    n.vendor: n for n in (OnGuard(), Openpath(), Brivo(), Generic())
}

__all__ = ["NORMALIZERS", "NormalizeError", "Normalized", "Normalizer", "camio_labels"]
