package org.dualdistill.testing;

import org.dualdistill.internal.torch.TorchRuntime;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/** Warms the JavaCPP cache before any test class touches LibTorch (see {@link TorchRuntime}). */
public final class TorchRuntimeListener implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        TorchRuntime.init();
    }
}
