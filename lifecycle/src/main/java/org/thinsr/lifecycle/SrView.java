package org.thinsr.lifecycle;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

/**
 * An SR as commands report it.
 *
 * @param stat space figures, or {@code null} when not asked for or unavailable
 * @param vdiCount number of VDIs (templates and disks)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SrView(
        String uuid,
        String nameLabel,
        String description,
        String backend,
        String location,
        Map<String, String> configuration,
        int vdiCount,
        SrStat stat) {}
