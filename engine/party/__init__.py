"""Party: recommendations for a group watching together (issue 19).

  aggregate.py  members' benefits -> one ranking (veto-free core: average, least misery,
                proportional); shared by serving and the evaluation
  reasons.py    the group's sentence under each pick, from real evidence
  serving.py    PartyRecommender: profiles, candidates, veto, relaxation, reasons
  evaluate.py   `moviebot eval party`: synthetic groups of held-out MovieLens users
  cli.py        `moviebot party`, `moviebot eval party`

How it fits the registry: the party recommender has no artifacts of its own (no build
stage, nothing in manifest.json), so it is not an entry of engine/components.py. It is
composed from the version's registered collab and content recommenders:
`Engine.group_recommend` builds it once from ``engine.recommender("collab")`` and
``engine.recommender("content")`` (content optional), and `PartyRecommender.load(dir,
catalog)` does the same from a version directory. Its CLI is registered by bot/cli.py.
"""
