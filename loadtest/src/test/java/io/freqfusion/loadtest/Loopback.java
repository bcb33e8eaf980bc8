package io.freqfusion.loadtest;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** Load is only ever sent to this machine unless explicitly allowed (-Dloadtest.allowRemote=true). */
final class Loopback {
    private Loopback() {
    }

    static void require(String host) {
        if (Boolean.getBoolean("loadtest.allowRemote")) return;
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    throw new IllegalArgumentException("target " + host + " (" + a.getHostAddress()
                            + ") is not a loopback address; pass -Dloadtest.allowRemote=true to load a remote service you own");
                }
            }
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("cannot resolve " + host, e);
        }
    }
}
