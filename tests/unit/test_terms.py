"""Tokenising, stemming and weighted term counts of titles and summaries, on cases small enough to check by eye."""

from __future__ import annotations

from service.domain.terms import MAX_TERM_LEN, STOP_WORDS, stems, term_counts, title_key, words


def test_words_are_nfkc_normalised_and_case_folded() -> None:
    # fullwidth letters and the "fi" ligature fold to ASCII under NFKC; casefold maps "ß" to "ss"
    assert words("ＫＯＲＥＡ ﬁnance") == ["korea", "finance"]
    assert words("STRASSE Straße strasse") == ["strasse", "strasse", "strasse"]
    assert words("Élysée") == ["élysée"]  # accents are kept, only the case goes


def test_stop_words_are_dropped_and_order_kept() -> None:
    # "the", "about", "are", "over", "and" are stop words; "talks", "sanctions", "ended" are not
    assert words("The talks about the sanctions are over and ended") == ["talks", "sanctions", "ended"]
    assert {"the", "about", "are", "over", "and", "news", "says"} <= STOP_WORDS
    assert words("News: he says so") == []  # every word a stop word


def test_numbers_single_letters_and_overlong_words_are_dropped() -> None:
    # "G" and "7" are one character, "2024" and "1,000" are digits; "3d" mixes letters and digits: kept
    assert words("G 7 leaders met 2024 at 3d summit, 1,000 came") == ["leaders", "met", "3d", "summit", "came"]
    assert words("x_y") == []  # the underscore splits, leaving two single letters
    assert words("foo_bar") == ["foo", "bar"]
    assert words("k" * MAX_TERM_LEN) == ["k" * MAX_TERM_LEN]
    assert words("k" * (MAX_TERM_LEN + 1)) == []  # a URL, hash or glued text


def test_an_apostrophe_ends_the_word() -> None:
    # straight and typographic apostrophes alike: the possessive goes
    assert words("Korea's") == ["korea"]
    assert words("Korea’s missiles") == ["korea", "missiles"]
    assert words("it's") == []  # "it" is a stop word


def test_contractions_in_the_stop_list_are_dropped() -> None:
    # STOP_WORDS lists "don't", "isn't", "won't", ... but words() first cuts at the apostrophe, so it sees
    # "don", "isn", "won" (not stop words) and keeps them: words("They don't know") == ["don", "know"]
    assert words("They don't know, it isn't won't") == ["know"]


def test_stems_merge_inflections() -> None:
    # Snowball English: plural "-s", past "-ed" and "-ing" all strip to "sanction"
    assert stems("sanctions") == stems("sanctioned") == stems("sanctioning") == ["sanction"]
    assert stems("Sanctions on Korea") == ["sanction", "korea"]  # "on" is a stop word; order kept
    assert stems("runs running") == ["run", "run"]
    assert stems("") == []


def test_term_counts_weigh_a_title_word_twice() -> None:
    # title "Sanctions on Korea": sanction 2, korea 2; summary "Korea sanctioned again; sanctions bite":
    # korea +1, sanction +1 +1, bite +1 ("again" is a stop word) -> sanction 4, korea 3, bite 1
    counts = term_counts("Sanctions on Korea", "Korea sanctioned again; sanctions bite")
    assert counts == {"sanction": 4, "korea": 3, "bite": 1}
    # title_weight 3: sanction 3 + 2 = 5, korea 3 + 1 = 4
    assert term_counts("Sanctions on Korea", "Korea sanctioned again; sanctions bite", title_weight=3) == {
        "sanction": 5, "korea": 4, "bite": 1}
    assert term_counts("Sanctions on Korea", None) == {"sanction": 2, "korea": 2}
    assert term_counts("", "Korea talks") == {"korea": 1, "talk": 1}  # a summary word counts once


def test_title_key_ignores_case_punctuation_and_spacing() -> None:
    assert title_key("Sanctions: Korea, AGAIN!") == "sanctions korea again"
    assert title_key("  sanctions   korea -- again ") == title_key("Sanctions: Korea, AGAIN!")
    assert title_key("ＳＡＮＣＴＩＯＮＳ korea again") == "sanctions korea again"  # NFKC
    # unlike words(), every word stays: stop words, numbers, single letters
    assert title_key("The 2 of Us") == "the 2 of us"
    assert title_key("The 2 of Us") != title_key("The 3 of Us")
    assert title_key("Sanctions on Korea") != title_key("Sanction on Korea")  # no stemming


def test_title_key_treats_both_apostrophes_alike() -> None:
    # title_key("Korea’s plan") == "korea’s plan" but title_key("Korea's plan") == "korea's plan";
    # words() normalises "’" to "'", title_key does not
    assert title_key("Korea’s plan") == title_key("Korea's plan")
