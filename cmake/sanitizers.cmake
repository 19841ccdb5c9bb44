# SPDX-License-Identifier: MIT
# ASan+UBSan (DMACOH_SANITIZE) or TSan (DMACOH_TSAN) for every target of the build.
if(DMACOH_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer -g)
    add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
if(DMACOH_TSAN)
    add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g)
    add_link_options(-fsanitize=thread)
endif()
