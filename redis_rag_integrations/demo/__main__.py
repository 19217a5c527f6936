"""``python -m redis_rag_integrations.demo`` (what ``make demo`` runs)."""

from .run import main

raise SystemExit(main())
