# SPDX-License-Identifier: MIT
# The warning set (the union of o1heap's and lz4's, minus C90-only flags); -Werror with
# DMACOH_WERROR (CI).
function(dmacoh_warnings target)
    target_compile_options(${target} PRIVATE
        -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wcast-align -Wcast-qual
        -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef -Wpointer-arith
        -Wswitch-enum -Wdouble-promotion -Wvla)
    if(DMACOH_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
