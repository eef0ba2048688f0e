"""PostgreSQL planner settings the claim tests turn off to force a nested loop."""

NESTED_LOOP = ("enable_hashjoin", "enable_mergejoin", "enable_hashagg", "enable_sort",
               "enable_material")
