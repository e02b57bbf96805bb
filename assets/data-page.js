/* Data page: send the chosen export to POST ./upload as raw bytes (no base64 inside a
   callback body, which the app caps at 1 MB) and keep only the token of the held upload.
   The file input is emptied so the file does not stay in the page's state. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  data_page: {
    upload: async function (contents, filename) {
      const noUpdate = window.dash_clientside.no_update;
      if (!contents) {
        return [noUpdate, noUpdate];
      }
      const comma = contents.indexOf(",");
      const binary = atob(contents.slice(comma + 1));
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) {
        bytes[i] = binary.charCodeAt(i);
      }
      let reply;
      try {
        const response = await fetch("upload", {
          method: "POST",
          body: bytes,
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/octet-stream",
            "X-File-Name": encodeURIComponent(filename || "export.csv"),
          },
        });
        try {
          reply = await response.json();
        } catch (e) {
          reply = { error: "the server answered " + response.status };
        }
      } catch (e) {
        reply = { error: "the upload did not reach the server" };
      }
      return [reply, null];
    },
  },
});
