"""A question bank as a CSV file, good and spoilt, as an administrator would upload it."""

from __future__ import annotations

HEADER = "theme,theme_label,theme_description,item,text,scale,reverse,core,text_de,theme_label_de"
GOOD = "\n".join(
    [
        "# key: acme-v1",
        "# comment_prompt: Anything else?",
        HEADER,
        "morale,Morale,,m1,I have energy.,likert5,no,yes,Ich habe Energie.,Stimmung",
        "morale,Morale,,m2,I feel drained.,likert5,yes,no,Ich bin ausgelaugt.,Stimmung",
        "enps,Employee NPS,,n1,Recommend?,nps,no,yes,,",
    ]
)
BAD = GOOD.replace("likert5,yes,no", "likert7,maybe,no")
