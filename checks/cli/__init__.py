"""The ``dsb-verify`` command layer: argument parsing (:mod:`.main`), loading users' files
(:mod:`.io`), writing reports (:mod:`.report`) and the ``effective`` command (:mod:`.effective`)."""
