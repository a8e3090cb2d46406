from services.annotation.app import main

main()
