package dev.glimpse.samples.cli;

import dev.glimpse.vision.VisionTower;

/** Opens the tower a user names (a path or a hub id, resolved by the CLI's repository). */
final class Towers {
    private Towers() {}

    static VisionTower open(String name, String layer, boolean dropCls) {
        return VisionTower.open(GlimpseCli.repository().resolve(name), layer, dropCls);
    }
}
