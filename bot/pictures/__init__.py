"""Pictures drawn with Pillow: the area pictures (:mod:`.areas`) and the progress chart (:mod:`.progress`)."""
