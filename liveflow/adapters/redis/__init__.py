"""What LiveFlow keeps in Redis: the live lexicon (:mod:`.lexicon_store`), alert silences
(:mod:`.silence_store`), per-room alert thresholds (:mod:`.thresholds`) and the rooms' live view the worker
writes for ``liveflow top`` (:mod:`.snapshot`). Each module documents its key layout."""
