# guidance/ (tl_guidance): needle detection, tracking, path. Synthetic scenes
# come from test_guidance_synth.c (speckle, needle, fascia, tendon, bone).
tl_test(test_guidance_detect SOURCES test_guidance_detect.c test_guidance_synth.c
        LIBS tl_guidance TIMEOUT 60)
tl_test(test_guidance_track SOURCES test_guidance_track.c LIBS tl_guidance TIMEOUT 30)
# Real frames from other systems (../shared/data): no false needle; a needle
# implanted into real in-vivo texture is found.
tl_test(test_guidance_real SOURCES test_guidance_real.c LIBS tl_guidance tl_recording TIMEOUT 120)
# A 10-case `talus eval needle` through the real pipeline, loose bounds.
tl_test(test_guidance_eval SOURCES test_guidance_eval.c LIBS PkgConfig::CJSON TIMEOUT 240)
add_dependencies(test_guidance_eval talus)
# Detection over time: a still needle-like line is not reported once there is
# a background, a faint needle is found when it appears.
tl_test(test_guidance_time SOURCES test_guidance_time.c test_guidance_synth.c
        LIBS tl_guidance TIMEOUT 60)
# Needle enhancement: the scheme, and a still steep needle followed through
# steered frames (simulator -> imaging -> guidance) against straight frames.
tl_test(test_guidance_steer SOURCES test_guidance_steer.c LIBS tl_guidance tl_sim TIMEOUT 60)
# Simulated insertions (simulator -> imaging -> guidance), one behaviour
# each: a 55 degree needle is tracked; a needle that stops at its
# target stays shown with its tip; the shaft is tracked, not a reverberation
# copy of it over the tibia.
tl_test(test_guidance_sim SOURCES test_guidance_sim.c LIBS tl_guidance tl_sim TIMEOUT 60)
# The tip on the scheme's frames (steered and straight), simulated
# insertions from `talus eval needle` cases that were 1.5-6 mm off: a shaft
# whose change is uneven along it, the first frame, a needle stopped short
# of a bright layer.
tl_test(test_guidance_tip SOURCES test_guidance_tip.c LIBS tl_guidance tl_sim TIMEOUT 60)
# Following a needle through a steering scheme's frames (steer.c): what a
# straight frame may say about a needle the steered frames showed.
tl_test(test_guidance_follow SOURCES test_guidance_follow.c test_guidance_synth.c
        LIBS tl_guidance TIMEOUT 60)
# Acquisition rules on single images: a shaft comes from the image edge or
# out of an acoustic shadow, not from plain tissue.
tl_test(test_guidance_acquire SOURCES test_guidance_acquire.c test_guidance_synth.c
        LIBS tl_guidance TIMEOUT 60)
# Steep needles near their target on the scheme's frames (simulated
# insertions from `talus eval needle` cases): a shaft whose trace breaks is
# kept, not flagged out of plane; a track locked on a wrong first line is
# locked again on the needle; a needle drifting out of the plane is still
# flagged.
tl_test(test_guidance_hold SOURCES test_guidance_hold.c LIBS tl_guidance tl_sim TIMEOUT 60)
# Shallow (10-20 deg) needles on the scheme's frames, simulated insertions
# from `talus eval needle` cases that were missed: a needle over the tibia
# cortex is found.
tl_test(test_guidance_shallow SOURCES test_guidance_shallow.c LIBS tl_guidance tl_sim TIMEOUT 60)
# Steep needles' first frames on the scheme's frames, simulated insertions
# from `talus eval needle` cases never found while in plane: a dotted
# shaft's run of new echo (its middle in a gap, or on its brightest dot).
tl_test(test_guidance_first SOURCES test_guidance_first.c LIBS tl_guidance tl_sim TIMEOUT 60)
# Ankle needles out from under the tibia's cortex (2-4 mm of shaft, the rest
# in the cortex and its shadow): the reverberation ladder stands for the
# missing length and acquires the shaft; no needle in needle-free ankles.
tl_test(test_guidance_ladder SOURCES test_guidance_ladder.c LIBS tl_guidance tl_sim TIMEOUT 60)
# Lines present from the stream's first frame (no time background yet), on
# the scheme's frames: a tilted tendon's border is not followed as a still
# needle (eval seed 19 case 39); a still needle is shown once it moves; an
# advancing one once the time cue sees it change.
tl_test(test_guidance_still SOURCES test_guidance_still.c LIBS tl_guidance tl_sim TIMEOUT 60)
