"""Affinity: how strongly each buyer is drawn to each supplier, supplier cluster and HS chapter.

strength.py:   buyer_supplier_affinity, time-decayed SAR-style sums rolled forward from the last snapshot,
               and buyer_cluster_affinity from it;
similarity.py: chapter_similarity, co-purchase similarity between HS chapters;
job.py:        `tradematch job affinity`.
"""
