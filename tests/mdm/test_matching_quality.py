"""Duplicate detection quality on a generated list with known duplicates (bench/mdm_dataset.py)."""

from bench.mdm_dataset import evaluate, generate_customers
from mdm.services.matching import build_record, find_duplicates, name_tokens, website_domain


def test_normalisation_drops_suffixes_accents_punctuation_and_word_order():
    assert sorted(name_tokens("Müller & Söhne GmbH")) == sorted(name_tokens("SOEHNE, MUELLER"))
    assert name_tokens("Intl. Tech Svcs Ltd") == ["international", "technologies", "services"]
    assert website_domain("https://www.Acme.com/about?x=1") == "acme.com"


def test_a_subset_name_with_another_domain_is_not_a_duplicate():
    first = build_record(1, "Vetor Software", website="vetor.example")
    second = build_record(2, "Vetor Global Software", website="vetorglobal.example")
    assert find_duplicates([first, second]) == []


def test_recall_and_precision_at_2000_customers():
    rows = generate_customers(2000, seed=11)
    records = [
        build_record(r.index, r.name, website=r.website, tax_id=r.tax_id, country=r.country)
        for r in rows
    ]
    found = {tuple(sorted((m.left, m.right))) for m in find_duplicates(records)}
    figures = evaluate(rows, found)
    assert figures["recall"] >= 0.95, figures
    assert figures["precision"] >= 0.95, figures


def test_on_a_tie_the_older_record_wins_whatever_its_primary_keys_look_like_as_text():
    from mdm.services.matching import best_matches

    record = build_record(None, "Northwind Traders Incorporated", country="US")
    newer = build_record(100, "Northwind Traders LLC", country="US")
    older = build_record(99, "Northwind Traders Inc.", country="US")
    results = best_matches(record, [newer, older], threshold=80)
    assert [r.score for r in results][0] == results[1].score  # a tie, on purpose
    assert [r.right for r in results] == [99, 100]
